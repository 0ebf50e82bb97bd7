import Foundation

/// How one row of ../shared/calibration/published/measurements.json maps onto a setup we
/// model, decided row by row from the row's own fields (setup, framework, quote) and, where
/// the row is silent, the framework's documented default (docs/recipes.md). Every such choice
/// is written in `assumptions`; none was chosen to bring an estimate closer to the figure.
public struct PublishedMapping: Sendable {
  /// What the row's figure measured, and so which of our figures it is compared with.
  public enum Figure: String, Sendable {
    case allocated = "peak allocated"
    case reserved = "peak reserved"
    /// nvidia-smi or an unstated "VRAM" figure: what the process holds.
    case process = "process"
    /// The card size at which the row's setup was the largest that fitted: compared with our
    /// process peak at that setup (which should be just under it).
    case budget = "budget (largest setup that fits)"
  }

  /// The row's unit: GiB, GB (10^9), or unstated (both readings shown).
  public enum Unit: String, Sendable {
    case gib = "GiB"
    case gb = "GB"
    case unstated = "GB or GiB (unstated)"
  }

  public let id: String
  public let model: String
  /// A GPU preset, `"<n>GB"` for a card budget, or nil when the row names no GPU.
  public let gpu: String?
  public let figure: Figure
  public let unit: Unit
  public let setup: TrainingSetup
  public let assumptions: [String]

  init(
    _ id: String, _ model: String, gpu: String?, _ figure: Figure, _ unit: Unit, recipe: Recipe, rank: Int64,
    targets: LoRATargets, dropout: Double, seq: Int64, batch: Int64, attention: AttentionImplementation,
    optimizer: Optimizer = .adamw, doubleQuant: Bool = true, autocast: Bool = true, chunkedLoss: Bool? = nil,
    gpus: Int64 = 1, loop: TrainingLoop = .trainer, assumptions: [String]
  ) {
    var setup = TrainingSetup()
    setup.recipe = recipe
    setup.quantization = .nf4
    setup.usesDoubleQuantization = doubleQuant
    setup.computeDtype = .bf16
    setup.lora = LoRAConfiguration(rank: rank, targets: targets, dropout: dropout)
    setup.sequenceLength = seq
    setup.batchSize = batch
    setup.gradientCheckpointing = true
    setup.attention = attention
    setup.optimizer = optimizer
    setup.usesAutocast = autocast
    setup.chunkedCrossEntropy = chunkedLoss
    setup.gpuCount = gpus
    setup.loop = loop
    (self.id, self.model, self.gpu, self.figure, self.unit, self.setup, self.assumptions) =
      (id, model, gpu, figure, unit, setup, assumptions)
  }
}

extension PublishedMapping {
  // Shared setups, each from the row's quote and the framework source named.
  private static let fsdpTargets = LoRATargets.modules(["q_proj", "k_proj", "v_proj", "gate_proj", "up_proj", "down_proj"])
  private static let fsdpQLoRA = [
    "AnswerDotAI/fsdp_qlora train.py (read with the search tool): precision 'bf16' loads the base in bf16, "
      + "model.to(bf16) before get_peft_model, no autocast (nullcontext), torch.optim.AdamW, non-reentrant "
      + "checkpointing of every decoder layer; lora_target_modules 'all' = q,k,v,up,down,gate (no o_proj)",
    "dtypes: base, norms, embeddings and adapters bf16 = the qlora-paper recipe's rules (its fp32 norms: < 1 MB)",
    "dataset 'dummy': every sample is exactly context_length tokens",
    "a plain loop: train.py keeps `output = model(...)` (its logits) through loss.backward() and optimizer.step(), "
      + "then sets `output = None` before the next forward",
  ]
  private static let trlShardedQLoRA = [
    "PEFT examples/sft (TRL SFTTrainer): for QLoRA under FSDP/ZeRO-3 TRL skips prepare_model_for_kbit_training "
      + "and peft_module_casting_to_bf16 (trl sft_trainer.py, is_sharded_qlora), so the base stays bf16 and peft's "
      + "adapters fp32 = the llama-factory recipe's dtype rules",
    "HF Trainer bf16=True: autocast on; optimizer HF default adamw_torch (docs/recipes.md section 8)",
    "packing: every row is 2,048 tokens",
  ]
  private static let axolotl = [
    "axolotl: HF Trainer + peft prepare_model_for_kbit_training, then with flash_attention it casts norms and "
      + "embeddings back to the load dtype, so base bf16 and adapters fp32 = the llama-factory recipe's dtype rules",
    "sample_packing: each micro-batch row filled to sequence_len tokens; flash-attention varlen",
    "lora_dropout unstated: 0 (peft LoraConfig default)",
    "metric unstated: compared with our process figure; GPU unstated: no verdict",
  ]
  private static let unslothBlog = [
    "Unsloth blog table: the largest context that fitted a card of that size, batch 1, r=32 on q,k,v,o,gate,up,down",
    "lora_dropout unstated: 0 (peft LoraConfig default); double quant unstated: off (BitsAndBytesConfig default)",
    "optimizer unstated: HF default adamw_torch_fused; checkpointing 'presumably' on (the row)",
  ]

  /// Every published row that maps onto a setup we model.
  public static let all: [PublishedMapping] = fsdp + trl + axolotlRows + unslothRows + others

  private static let fsdp: [PublishedMapping] = [
    ("088", "llama-2-7b", 512, 1, 2), ("089", "llama-2-7b", 2048, 1, 2), ("090", "llama-2-7b", 2048, 4, 2),
    ("091", "llama-2-7b", 2048, 10, 2), ("092", "llama-2-7b", 2048, 8, 1), ("094", "yi-34b", 2048, 2, 2),
  ].map { id, model, seq, batch, gpus in
    PublishedMapping(
      id, model, gpu: "rtx-3090", .reserved, .gib, recipe: .qloraPaper, rank: 64, targets: fsdpTargets, dropout: 0.1,
      seq: seq, batch: batch, attention: .sdpa, autocast: false, gpus: gpus, loop: .plain,
      assumptions: fsdpQLoRA + [gpus == 1
        ? "sharding_strategy 'ddp': a full copy on each GPU, estimated as one GPU"
        : "FSDP FULL_SHARD over 2 GPUs"])
  }

  private static let trl: [PublishedMapping] = [
    ("100", "FSDP FULL_SHARD, no offload"), ("101", "DeepSpeed ZeRO-3, no offload"),
  ].map { id, how in
    PublishedMapping(
      id, "llama-2-70b", gpu: "a100-40gb", .process, .unstated, recipe: .llamaFactory, rank: 8, targets: .allLinear,
      dropout: 0.1, seq: 2048, batch: 2, attention: .flash, gpus: 2,
      assumptions: trlShardedQLoRA + ["\(how) over 2 GPUs; GPU '>= 40 GB class': a100-40gb"])
  }

  private static let axolotlRows: [PublishedMapping] = [
    PublishedMapping(
      "105", "mistral-small-24b", gpu: nil, .process, .unstated, recipe: .llamaFactory, rank: 32, targets: .allLinear,
      dropout: 0, seq: 2048, batch: 2, attention: .flash, chunkedLoss: true,
      assumptions: axolotl + ["Devstral-Small-2507: the Mistral-Small-3.1 24B text decoder = preset mistral-small-24b",
        "Cut Cross Entropy plugin: chunked loss"]),
    PublishedMapping(
      "107", "mistral-small-24b", gpu: nil, .process, .unstated, recipe: .llamaFactory, rank: 32, targets: .allLinear,
      dropout: 0, seq: 2048, batch: 2, attention: .flash, optimizer: .adamw8bit, chunkedLoss: false,
      assumptions: axolotl + ["Magistral-Small-2506: the Mistral-Small-3.1 24B text decoder = preset mistral-small-24b",
        "no CCE plugin: full logits"]),
    PublishedMapping(
      "115", "mistral-small-24b", gpu: nil, .process, .gib, recipe: .llamaFactory, rank: 32, targets: .allLinear,
      dropout: 0, seq: 2048, batch: 2, attention: .flash, optimizer: .adamw8bit, chunkedLoss: true,
      assumptions: axolotl + ["Magistral-Small-2507: the Mistral-Small-3.1 24B text decoder = preset mistral-small-24b",
        "Cut Cross Entropy plugin: chunked loss"]),
    PublishedMapping(
      "116", "llama-2-7b", gpu: "rtx-4090", .process, .unstated, recipe: .hfPeft, rank: 32, targets: .allLinear,
      dropout: 0, seq: 4096, batch: 2, attention: .eager, optimizer: .pagedAdamw,
      assumptions: [
        "axolotl config at dc71d8872: no flash attention, so prepare_model_for_kbit_training's fp32 norms and "
          + "embeddings stay = the hf-peft recipe; eager attention (transformers of the time)",
        "max_packed_sequence_len 4096: every row 4,096 tokens; lora_dropout unstated: 0 (peft default)",
        "metric unstated ('about 17 GB'): compared with our process figure",
      ]),
  ]

  private static let unslothRows: [PublishedMapping] = {
    let hf: [(String, Int64, Int64)] = [
      ("117", 12, 932), ("118", 16, 2551), ("119", 24, 5789), ("120", 40, 12264), ("121", 48, 15502), ("122", 80, 28454),
    ]
    let unsloth: [(String, Int64, Int64)] = [
      ("123", 8, 2972), ("124", 12, 21848), ("125", 16, 40724), ("126", 24, 78475), ("127", 40, 153977),
      ("128", 48, 191728), ("129", 80, 342733),
    ]
    func row(_ id: String, _ model: String, _ gb: Int64, _ seq: Int64, _ recipe: Recipe, _ note: String) -> PublishedMapping {
      PublishedMapping(
        id, model, gpu: "\(gb)GB", .budget, .unstated, recipe: recipe, rank: 32, targets: .allLinear, dropout: 0,
        seq: seq, batch: 1, attention: .flash, doubleQuant: recipe.name == "unsloth",
        assumptions: unslothBlog + [note])
    }
    let hfNote = "column 'Hugging Face + FA2': transformers + peft = the hf-peft recipe"
    let unslothNote = "column 'Unsloth': the unsloth recipe (double quant on, its BitsAndBytesConfig); its CPU "
      + "offload of checkpointed layer inputs is not modelled"
    return hf.map { row($0.0, "llama-3.1-8b", $0.1, $0.2, .hfPeft, hfNote) }
      + unsloth.map { row($0.0, "llama-3.1-8b", $0.1, $0.2, .unsloth, unslothNote) }
      + [row("130", "llama-3.3-70b", 80, 6916, .hfPeft, hfNote),
         row("131", "llama-3.3-70b", 48, 12106, .unsloth, unslothNote),
         row("132", "llama-3.3-70b", 80, 89389, .unsloth, unslothNote)]
  }()

  private static let others: [PublishedMapping] = [
    PublishedMapping(
      "084", "yi-34b", gpu: "rtx-3090", .process, .unstated, recipe: .msSwift, rank: 8,
      targets: .modules(["q_proj", "k_proj", "v_proj"]), dropout: 0.05, seq: 2048, batch: 1, attention: .eager,
      assumptions: [
        "ms-swift 1.x script (the row's quote) on the ms-swift recipe read at 4.6.0: base bf16, adapters fp32",
        "max_length 2048 taken as every sample's length (an upper bound: the row's dataset is shorter on average)",
        "use_flash_attn false: eager attention; 'A10, 3090': rtx-3090",
      ]),
    PublishedMapping(
      "133", "llama-2-7b", gpu: "a100-80gb", .process, .unstated, recipe: .llamaFactory, rank: 8,
      targets: .modules(["q_proj", "v_proj"]), dropout: 0, seq: 1024, batch: 4, attention: .sdpa,
      assumptions: [
        "LLaMA-Factory defaults (docs/recipes.md): NF4 + double quant, lora_dropout 0, checkpointing on; "
          + "targets q_proj,v_proj (the row: that era's default); optimizer HF default adamw",
        "precision unstated: bf16 on an A100; 'HF default (no FA2)': sdpa; 'A100': a100-80gb",
        "max length 1024 taken as every sample's length (a cut-off: real lengths are shorter)",
      ]),
    PublishedMapping(
      "134", "llama-2-7b", gpu: "a100-80gb", .process, .unstated, recipe: .unsloth, rank: 8,
      targets: .modules(["q_proj", "v_proj"]), dropout: 0, seq: 1024, batch: 4, attention: .flash,
      assumptions: [
        "LLaMA-Factory with use_unsloth: the unsloth recipe (chunked loss; its CPU offload of checkpoints is not "
          + "modelled); other settings as row 133",
        "max length 1024 taken as every sample's length (a cut-off: real lengths are shorter)",
      ]),
  ]

  /// Why a row does not map, for every row not in ``all``.
  public static func reason(_ row: [String: Any]) -> String {
    let id = row["id"] as? String ?? ""
    func field(_ key: String) -> String { (row[key] as? String ?? "").lowercased() }
    if field("quantization").contains("gptq") { return "GPTQ int4 (auto-gptq), not bitsandbytes" }
    if field("quantization").contains("torchao") { return "torchao NF4Tensor in torchtune's own loop, not bitsandbytes + peft" }
    if field("framework").contains("litgpt") || field("framework").contains("lit-gpt") {
      return "LitGPT's own model code and training loop"
    }
    if field("other_memory_features").contains("cpu offload") || field("parallelism").contains("offload") {
      return "FSDP CPU offload of parameters: not modelled"
    }
    if field("measurement_type").contains("estimate") || field("trust").hasPrefix("n/a") {
      return "an estimate or claim, not a measurement"
    }
    if ["064", "066", "068", "070", "072", "074", "080", "081", "082", "083"].contains(id) {
      return "Qwen v1 (remote-code QWenLMHeadModel, fused c_attn): no preset or config"
    }
    if ["136", "137", "138"].contains(id) { return "setup only in linked notebooks (rank, length, batch unstated)" }
    if id == "102" { return "StarCoder (gpt_bigcode, multi-query attention): no preset" }
    return "no preset for this architecture and no config in the row"
  }
}

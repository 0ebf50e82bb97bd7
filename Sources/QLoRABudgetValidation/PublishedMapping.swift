import Foundation
import QLoRABudget

/// How one row of Tests/Calibration/published/measurements.json maps onto a setup we
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
  public private(set) var setup: TrainingSetup
  public let assumptions: [String]

  /// The same row under the attention its recipe's own layers run by default
  /// (``Recipe/ownLayerAttention``: Unsloth's xformers) when the mapping names another; nil
  /// otherwise. docs/validation.md shows what the row's figure would be so.
  var withRecipesOwnAttention: PublishedMapping? {
    guard let own = setup.recipe.ownLayerAttention, let given = setup.givenAttention, given != own else { return nil }
    var mapping = self
    mapping.setup.givenAttention = nil
    return mapping
  }

  /// The row's setup: ``TrainingSetup/init()`` with `changes` made, in the settings vocabulary
  /// the command line and the training configs use.
  init(
    _ id: String, _ model: String, gpu: String?, _ figure: Figure, _ unit: Unit, _ changes: [SettingChange],
    assumptions: [String]
  ) {
    (self.id, self.model, self.gpu, self.figure, self.unit, self.assumptions) = (
      id, model, gpu, figure, unit, assumptions
    )
    setup = SettingChange.apply(changes, to: TrainingSetup())
  }
}

extension PublishedMapping {
  // Shared setups, each from the row's quote and the framework source named.
  private static let fsdpTargets = LoRATargets.modules([
    "q_proj", "k_proj", "v_proj", "gate_proj", "up_proj", "down_proj",
  ])
  private static let allProjections = LoRATargets.modules([
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
  ])
  /// What every row of a framework built on HF's Trainer shares: checkpointing on, the Trainer's loop.
  private static let trainer: [SettingChange] = [.gradientCheckpointing(true), .loop(.trainer)]
  private static let fsdpQLoRA = [
    "AnswerDotAI/fsdp_qlora train.py at 049515f, the rows' defaults (fetched): precision 'bf16' loads the base in bf16 "
      + "(torch_dtype bf16, quant_storage bf16), model.to(bf16) before get_peft_model, no FSDP mixed precision "
      + "(mp_policy None) and no autocast (nullcontext), torch.optim.AdamW; lora_target_modules 'all' = "
      + "q,k,v,up,down,gate (no o_proj)",
    "dtypes: base, norms, embeddings and adapters all bf16 (README: 'cast all the model parameters to torch.bfloat16'; "
      + "FSDP with use_orig_params=False flattens a unit's params into one bf16 tensor) = the trl recipe's rules",
    "loading: train.py quantizes with a thread pool (load_and_quantize_parallel, n_loading_workers threads, "
      + "hardware-dependent) = the trl recipe's threaded loader (4 threads in flight), not the sequential one",
    "checkpointing: the rows' command sets reentrant_checkpointing True: checkpoint_wrapper(CheckpointImpl.REENTRANT) "
      + "on every decoder layer after enable_input_require_grads(), the reentrant checkpointing the estimator "
      + "assumes for a quantized base",
    "loss fp32-logits: the runs (Feb-Mar 2024) used the transformers of the time (4.39 or older; the README "
      + "later excludes 4.38.* and 4.39.*), whose LlamaForCausalLM.forward returns logits.float() and shifts them "
      + "with a copy (until 4.45: huggingface/transformers#33902 moved the upcast into the loss for 4.46)",
    "dataset 'dummy': every sample is exactly context_length tokens",
    "a plain loop: train.py keeps `output = model(...)` (its fp32 logits) through loss.backward() and "
      + "optimizer.step(), then sets `output = None` before the next forward",
  ]
  private static let trlShardedQLoRA = [
    "PEFT examples/sft (TRL SFTTrainer): for QLoRA under FSDP/ZeRO-3 TRL skips prepare_model_for_kbit_training "
      + "and peft_module_casting_to_bf16 (trl sft_trainer.py, is_sharded_qlora), so the base stays bf16 and peft's "
      + "adapters fp32 = the llama-factory recipe's dtype rules",
    "HF Trainer bf16=True: autocast on; optimizer HF default adamw_torch (docs/recipes.md section 8)",
    "packing: every row is 2,048 tokens; the loss of TRL at the time: transformers' full-logits loss (the trl "
      + "recipe's chunked_nll default and bf16 adapters are today's TRL, after these rows)",
  ]
  private static let axolotl = [
    "axolotl recipe: HF Trainer + peft prepare_model_for_kbit_training, then with an adapter it casts norms and "
      + "embeddings back to the load dtype, so base bf16 and adapters fp32 (docs/recipes.md, axolotl)",
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
  public static let all: [PublishedMapping] =
    fsdp + trl + axolotlRows + unslothRows + others + litgptConfigHubRows + moreRuns

  /// The rows of Answer.AI's fsdp_qlora benchmarks (benchmarks_03_2024.md), which the analysis
  /// of docs/validation.md describes from their figures.
  public static var fsdpQLoRAIDs: [String] { fsdp.map(\.id) }

  /// The GPU is the row's: the first one named where the row names two that gave the same figure.
  private static let fsdp: [PublishedMapping] = [
    ("088", "llama-2-7b", 512, 1, 2, false, "rtx-3090"), ("089", "llama-2-7b", 2048, 1, 2, false, "rtx-3090"),
    ("090", "llama-2-7b", 2048, 4, 2, false, "rtx-3090"),
    ("091", "llama-2-7b", 2048, 10, 2, false, "rtx-3090"), ("092", "llama-2-7b", 2048, 8, 1, false, "rtx-3090"),
    ("094", "yi-34b", 2048, 2, 2, false, "rtx-3090"),
    ("093", "llama-2-7b", 2048, 12, 2, true, "rtx-4090"), ("095", "yi-34b", 2048, 4, 2, true, "rtx-3090"),
    ("096", "llama-2-70b", 2048, 2, 2, true, "rtx-3090"),
    ("097", "mistral-7b-v0.1", 2048, 12, 2, true, "rtx-4090"),
    ("098", "mistral-7b-v0.1", 24_576, 1, 2, true, "rtx-4090"),
  ].map { id, model, seq, batch, gpus, offload, gpu in
    PublishedMapping(
      id, model, gpu: gpu, .reserved, .gib,
      [
        .recipe(.trl), .rank(64), .targets(fsdpTargets), .loraDropout(0.1), .sequenceLength(seq),
        .batchSize(batch),
        .attention(.sdpa), .autocast(false), .loss(.fp32Logits), .gpuCount(gpus), .offload(offload ? .parameters : []),
        .gradientCheckpointing(true), .loop(.plain),
      ],
      assumptions: fsdpQLoRA + [
        gpus == 1
          ? "sharding_strategy 'ddp': a full copy on each GPU, estimated as one GPU"
          : "FSDP FULL_SHARD over 2 GPUs",
        gpu == "rtx-4090" ? "GPU: the row's '2x RTX 4090'" : "GPU: the row's (first named) RTX 3090",
      ]
        + (offload
          ? ["fsdp_qlora's use_cpu_offload true: FSDP CPUOffload(offload_params=True), parameter offload"] : [])
        + (model.hasPrefix("mistral")
          ? ["Mistral-7B-v0.2: the v0.1 preset's shapes (v0.2 changes rope theta and drops the sliding window)"] : []))
  }

  private static let trl: [PublishedMapping] = [
    ("100", "FSDP FULL_SHARD, no offload", ParallelEngine.fsdp, EngineOffload(), "a100-40gb"),
    (
      "101",
      "DeepSpeed ZeRO-3, no offload (DeepSpeed's default bucket sizes; DeepSpeed casts the module to bf16, "
        + "so adapters bf16 with an fp32 master partition)", .zero3, [], "a100-40gb"
    ),
    ("099", "FSDP FULL_SHARD with fsdp_offload_params (CPUOffload)", .fsdp, .parameters, "24GB"),
  ].map { id, how, engine, offload, gpu in
    PublishedMapping(
      id, "llama-2-70b", gpu: gpu, .process, .unstated,
      [
        .recipe(.llamaFactory), .rank(8), .targets(.allLinear), .loraDropout(0.1), .sequenceLength(2048), .batchSize(2),
        .attention(.flash), .loss(.standard), .gpuCount(2), .engine(engine), .offload(offload),
      ] + trainer,
      assumptions: trlShardedQLoRA + [
        "\(how) over 2 GPUs (engine \(engine.rawValue)"
          + (offload.isEmpty ? "" : ", offload \(offload.description)") + "); GPU "
          + (gpu == "24GB" ? "'2x 24GB GPUs': a 24 GB card" : "'>= 40 GB class': a100-40gb")
      ])
  }

  private static let axolotlChanges: [SettingChange] =
    [
      .recipe(.axolotl), .rank(32), .targets(.allLinear), .loraDropout(0), .sequenceLength(2048), .batchSize(2),
      .attention(.flash),
    ] + trainer

  private static let axolotlRows: [PublishedMapping] = [
    PublishedMapping(
      "105", "mistral-small-24b", gpu: nil, .process, .unstated, axolotlChanges + [.loss(.chunked)],
      assumptions: axolotl + [
        "Devstral-Small-2507: the Mistral-Small-3.1 24B text decoder = preset mistral-small-24b",
        "Cut Cross Entropy plugin: chunked loss",
      ]),
    PublishedMapping(
      "107", "mistral-small-24b", gpu: nil, .process, .unstated,
      axolotlChanges + [.optimizer(.adamw8bit), .loss(.standard)],
      assumptions: axolotl + [
        "Magistral-Small-2506: the Mistral-Small-3.1 24B text decoder = preset mistral-small-24b",
        "no CCE plugin: full logits",
      ]),
    PublishedMapping(
      "115", "mistral-small-24b", gpu: nil, .process, .gib, axolotlChanges + [.optimizer(.adamw8bit), .loss(.chunked)],
      assumptions: axolotl + [
        "Magistral-Small-2507: the Mistral-Small-3.1 24B text decoder = preset mistral-small-24b",
        "Cut Cross Entropy plugin: chunked loss",
      ]),
    PublishedMapping(
      "116", "llama-2-7b", gpu: "rtx-4090", .process, .unstated,
      [
        .recipe(.hfPeft), .rank(32), .targets(.allLinear), .loraDropout(0), .sequenceLength(4096), .batchSize(2),
        .attention(.eager), .optimizer(.pagedAdamw),
      ] + trainer,
      assumptions: [
        "axolotl config at dc71d8872: no flash attention, so prepare_model_for_kbit_training's fp32 norms and "
          + "embeddings stay = the hf-peft recipe; eager attention (transformers of the time)",
        "max_packed_sequence_len 4096: every row 4,096 tokens; lora_dropout unstated: 0 (peft default)",
        "metric unstated ('about 17 GB'): compared with our process figure",
      ]),
  ]

  private static let unslothRows: [PublishedMapping] = {
    let hf: [(String, Int64, Int64)] = [
      ("117", 12, 932), ("118", 16, 2551), ("119", 24, 5789), ("120", 40, 12264), ("121", 48, 15502),
      ("122", 80, 28454),
    ]
    let unsloth: [(String, Int64, Int64)] = [
      ("123", 8, 2972), ("124", 12, 21848), ("125", 16, 40724), ("126", 24, 78475), ("127", 40, 153977),
      ("128", 48, 191728), ("129", 80, 342733),
    ]
    func row(_ id: String, _ model: String, _ gb: Int64, _ seq: Int64, _ recipe: Recipe, _ note: String)
      -> PublishedMapping
    {
      PublishedMapping(
        id, model, gpu: "\(gb)GB", .budget, .unstated,
        [
          .recipe(recipe), .rank(32), .targets(.allLinear), .loraDropout(0), .sequenceLength(seq), .batchSize(1),
          .attention(.flash), .doubleQuantization(recipe.name == "unsloth"),
        ] + trainer,
        assumptions: unslothBlog + [note])
    }
    let hfNote = "column 'Hugging Face + FA2': transformers + peft = the hf-peft recipe"
    let unslothNote =
      "column 'Unsloth': the unsloth recipe (double quant on, its BitsAndBytesConfig), with its offload of "
      + "checkpointed layer inputs to host memory and its own decoder kernels (RMSNorm; dropout 0: fused LoRA "
      + "QKV, O and MLP); attention flash-attn, set: the Dec 2024 README's install for Ampere and newer GPUs (the "
      + "'-ampere' extras its install script picks on sm 8.0+, the blog's A100) adds flash-attn>=2.6.3, which "
      + "Unsloth's layers take before xformers (the recipe's default, what a plain pip install brings)"
    return hf.map { row($0.0, "llama-3.1-8b", $0.1, $0.2, .hfPeft, hfNote) }
      + unsloth.map { row($0.0, "llama-3.1-8b", $0.1, $0.2, .unsloth, unslothNote) }
      + [
        row("130", "llama-3.3-70b", 80, 6916, .hfPeft, hfNote),
        row("131", "llama-3.3-70b", 48, 12106, .unsloth, unslothNote),
        row("132", "llama-3.3-70b", 80, 89389, .unsloth, unslothNote),
      ]
  }()

  private static let others: [PublishedMapping] = [
    PublishedMapping(
      "059", "llama-3-8b", gpu: nil, .allocated, .gb,
      [
        .recipe(.torchtune), .rank(8), .targets(allProjections), .loraDropout(0), .sequenceLength(512), .batchSize(2),
        .attention(.sdpa), .autocast(false), .loss(.standard),
      ] + trainer,
      assumptions: [
        "torchtune recipe (torchao NF4, bf16 model and adapters, activation checkpointing), no autocast (torchtune "
          + "trains in the model dtype); targets q,k,v,output_proj + MLP (the row)",
        "the 2024 torchtune of this row used nn.CrossEntropyLoss on the full logits (chunked output loss came later): "
          + "the standard loss",
        "alpaca_cleaned max_seq_len 512: the peak taken at a 512-token batch; '~9GB' read as GB",
      ]),
    PublishedMapping(
      "084", "yi-34b", gpu: "rtx-3090", .process, .unstated,
      [
        .recipe(.msSwift), .rank(8), .targets(.modules(["q_proj", "k_proj", "v_proj"])), .loraDropout(0.05),
        .sequenceLength(2048), .batchSize(1), .attention(.eager),
      ] + trainer,
      assumptions: [
        "ms-swift 1.x script (the row's quote) on the ms-swift recipe read at 4.6.0: base bf16, adapters fp32",
        "max_length 2048 taken as every sample's length (an upper bound: the row's dataset is shorter on average)",
        "use_flash_attn false: eager attention; 'A10, 3090': rtx-3090",
      ]),
    PublishedMapping(
      "133", "llama-2-7b", gpu: "a100-80gb", .process, .unstated,
      [
        .recipe(.llamaFactory), .rank(8), .targets(.modules(["q_proj", "v_proj"])), .loraDropout(0),
        .sequenceLength(1024),
        .batchSize(4), .attention(.sdpa),
      ] + trainer,
      assumptions: [
        "LLaMA-Factory defaults (docs/recipes.md): NF4 + double quant, lora_dropout 0, checkpointing on; "
          + "targets q_proj,v_proj (the row: that era's default); optimizer HF default adamw",
        "precision unstated: bf16 on an A100; 'HF default (no FA2)': sdpa; 'A100': a100-80gb",
        "max length 1024 taken as every sample's length (a cut-off: real lengths are shorter)",
      ]),
    PublishedMapping(
      "134", "llama-2-7b", gpu: "a100-80gb", .process, .unstated,
      [
        .recipe(.unsloth), .rank(8), .targets(.modules(["q_proj", "v_proj"])), .loraDropout(0), .sequenceLength(1024),
        .batchSize(4), .attention(.flash),
      ] + trainer,
      assumptions: [
        "LLaMA-Factory with use_unsloth: the unsloth recipe (chunked loss, offloaded checkpoints, Unsloth's "
          + "RMSNorm; q_proj and v_proj alone complete no fused LoRA block, so the branches are peft's); other "
          + "settings as row 133",
        "max length 1024 taken as every sample's length (a cut-off: real lengths are shorter)",
      ]),
    torchtune01Row(
      "056",
      "QLoRA tutorial (torchtune 0914d5cfb, 2024-04-15): the same 9.29 GB after training; 9.13 GB reserved "
        + "already after model init, which the torchtune-0.1 loader's build, deep copies and load reach"),
  ]

  /// A torchtune 0.1 row of `7B_qlora_single_device.yaml` (Llama-2-7B, rank 8 on q, k, v, output_proj and the MLP,
  /// alpaca_cleaned at 512 tokens, batch 2, nn.CrossEntropyLoss) under the torchtune-0.1 recipe.
  private static func torchtune01Row(_ id: String, _ extra: String) -> PublishedMapping {
    PublishedMapping(
      id, "llama-2-7b", gpu: "rtx-4090", .reserved, .gb,
      [
        .recipe(.torchtune01), .rank(8), .targets(allProjections), .loraDropout(0), .sequenceLength(512),
        .batchSize(2), .attention(.sdpa), .autocast(false), .loss(.standard),
      ] + trainer,
      assumptions: [
        "torchtune-0.1 recipe (torchtune 0.1 with its pinned torchao==0.1: model built on the GPU, layers "
          + "deep-copied, NF4 weights quantized whole; nn.CrossEntropyLoss on the full logits), no autocast; "
          + "targets q,k,v,output_proj + MLP (the row)",
        "alpaca_cleaned max_seq_len 512: the peak taken at a 512-token batch", extra,
      ])
  }

  /// Rows a recipe now expresses whose figure depends on something the estimator does not model
  /// yet (the reason): compared and shown, but not part of the accuracy bar.
  public static let expressedOnly: [(mapping: PublishedMapping, reason: String)] =
    litgptResourceTableRows + torchtuneRows

  private static let litgptNote = [
    "litgpt recipe: Fabric BitsandbytesPrecision (every nn.Linear 4-bit, lm_head too), bf16-true, no activation "
      + "checkpointing, 128-token lm_head/loss chunks, bnb PagedAdamW, LitGPT's own model code and the bitsandbytes "
      + "it pinned (docs/recipes.md, LitGPT)",
    "LoRA on query and value of the fused qkv: q_proj, v_proj; the figure is torch.cuda.max_memory_allocated",
  ]

  /// LitGPT's config hub table (2024 code: litgpt 4a9b7e62-00af8b0d, bitsandbytes 0.41.0-0.42.0),
  /// the code the litgpt recipe models.
  private static let litgptConfigHubRows: [PublishedMapping] = [
    ("034", "llama-2-7b"), ("035", "llama-3-8b"), ("036", "llama-3.1-8b"), ("037", "llama-3.2-1b"),
    ("038", "llama-3.2-3b"), ("039", "mistral-7b-v0.1"), ("040", "mistral-7b-v0.1"),
  ].map { id, model in
    litgpt(
      id, model, rank: 32, seq: 512, batch: 2, gpu: "a10g", doubleQuant: false,
      "config hub: max_seq_length 512, batches padded to their longest sample: the peak at 512 tokens (a step at "
        + "512 after another at 512, whose graph the loop still holds)")
  }

  /// lit-gpt's resource tables (Oct 2023, lit-gpt 8641822, bitsandbytes 0.41.1): other code than the
  /// recipe's (litgptResourceTableReason).
  private static let litgptResourceTableRows: [(mapping: PublishedMapping, reason: String)] = [
    ("049", "llama-2-7b", false), ("050", "llama-2-7b", true), ("051", "llama-2-13b", false),
    ("052", "llama-2-13b", true),
  ].map { id, model, doubleQuant in
    (
      litgpt(
        id, model, rank: 8, seq: 1304, batch: 1, gpu: "a100-40gb", doubleQuant: doubleQuant,
        "lit-gpt runs its first step on the longest Alpaca sample (1304 tokens, the row)"),
      litgptResourceTableReason
    )
  }
  private static let litgptResourceTableReason =
    "lit-gpt 8641822 (Oct 2023) is not the code the recipe models: its finetune/lora.py runs the longest sample "
    + "first (get_batch(..., longest_seq_ix if iter_num == 0)), so the peak step has no previous step's graph "
    + "beside it, and its RMSNorm (lit_gpt/rmsnorm.py) saves its bf16 input, not an fp32 copy; with both, an "
    + "estimate is 6-9% under these rows, as far under as the same table's bf16 LoRA rows: not found"

  private static func litgpt(
    _ id: String, _ model: String, rank: Int64, seq: Int64, batch: Int64, gpu: String, doubleQuant: Bool,
    _ length: String
  ) -> PublishedMapping {
    PublishedMapping(
      id, model, gpu: gpu, .allocated, .gb,
      [
        .recipe(.litgpt), .rank(rank), .targets(.modules(["q_proj", "v_proj"])), .loraDropout(0.05),
        .sequenceLength(seq), .batchSize(batch), .attention(.sdpa), .optimizer(.pagedAdamw),
        .doubleQuantization(doubleQuant), .autocast(false), .loop(.trainer),
      ],
      assumptions: litgptNote + [length])
  }

  private static let torchtuneRows: [(mapping: PublishedMapping, reason: String)] = {
    let note = "torchtune recipe, no autocast; targets q,k,v,output_proj + MLP (the row)"
    let compile = "torch.compile: compiled graphs keep fewer activations than eager PyTorch; not modelled"
    func row(
      _ id: String, _ model: String, _ figure: Figure, _ unit: Unit, rank: Int64, seq: Int64, batch: Int64,
      gpu: String?, gpus: Int64 = 1, chunked: Bool, _ extra: String
    ) -> PublishedMapping {
      PublishedMapping(
        id, model, gpu: gpu, figure, unit,
        [
          .recipe(.torchtune), .rank(rank), .targets(allProjections), .loraDropout(0), .sequenceLength(seq),
          .batchSize(batch),
          .attention(.sdpa), .autocast(false), .loss(chunked ? .chunked : .standard), .gpuCount(gpus),
        ] + trainer,
        assumptions: [note, extra])
    }
    return [
      (
        torchtune01Row("057", "README 20747cd87 (2024-04-18): same config as row 056"),
        "8.57 GB from the same torchtune and torchao code as row 056's 9.29 GB (no change in the QLoRA path "
          + "between 0914d5cfb and 20747cd87; torchao==0.1 pinned in both): the source does not say what else changed"
      ),
      (
        row(
          "058", "llama-2-7b", .process, .gb, rank: 8, seq: 2048, batch: 4, gpu: "rtx-4090", chunked: false,
          "metric unstated: compared with our process figure"), compile
      ),
      (
        row(
          "060", "llama-3.1-8b", .process, .gib, rank: 8, seq: 2048, batch: 2, gpu: "rtx-4090", chunked: true,
          "packed to 2,048 tokens; CEWithChunkedOutputLoss (8 chunks); metric unstated: our process figure"), compile
      ),
      (
        row(
          "061", "llama-3.1-405b", .process, .unstated, rank: 16, seq: 2048, batch: 2, gpu: "a100-80gb", gpus: 8,
          chunked: true, "lora_finetune_distributed: FSDP2 full shard over 8 GPUs; packed to 2,048"), compile
      ),
    ]
  }()

  /// Why a row does not map, for every row not in ``all``.
  public static func reason(_ row: [String: Any]) -> String {
    if let reason = moreRunsReason(row) { return reason }
    let id = row["id"] as? String ?? ""
    func field(_ key: String) -> String { (row[key] as? String ?? "").lowercased() }
    if field("quantization").contains("gptq") { return "GPTQ int4 (auto-gptq), not bitsandbytes" }
    if id == "062" { return "torchtune activation offloading of every saved tensor (OffloadActivations): not modelled" }
    if id == "063" {
      return "torchtune peak allocated during model init (load-time quantization transients), not a step figure"
    }
    if field("framework").contains("litgpt") || field("framework").contains("lit-gpt") {
      if id == "053" { return "Falcon-40B (falcon, multi-query attention): no preset" }
      return "LitGPT with LoRA on lm_head (lora_head) or an architecture without a preset (falcon, phi-1.5/2, "
        + "StableLM Alpha, gemma): neither modelled"
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

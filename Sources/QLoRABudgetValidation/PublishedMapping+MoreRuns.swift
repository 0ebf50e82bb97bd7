import QLoRABudget

/// The rows of Tests/Calibration/published/more-runs.json and oom-reports.json: IBM's
/// fms-acceleration reference benchmark (scripts/benchmarks/refs/a100_80gb.csv at 876e2ed, one
/// A100-80GB, transformers 4.48.1, peft 0.13.2, bitsandbytes 0.43.3, trl 0.13.0), mapped as
/// ``PublishedMapping`` maps the others: the setup from the benchmark's scenarios.yaml,
/// defaults.yaml and plugin code of the same commit, nothing chosen to bring an estimate closer.
extension PublishedMapping {
  /// The benchmark's one-GPU accelerated-peft-bnb rows of 9239802 (transformers 4.45.2, whose loss the
  /// `fp32-logits` loss models): compared and counted like the rows of measurements.json.
  public static let moreRuns: [PublishedMapping] = [
    ("p2-039", "mistral-7b-v0.1", 4, Figure.process, Unit.gib), ("p2-040", "mistral-7b-v0.1", 4, .allocated, .gb),
    ("p2-041", "mistral-7b-v0.1", 8, .process, .gib), ("p2-042", "mistral-7b-v0.1", 8, .allocated, .gb),
    ("p2-043", "llama-2-70b", 4, .process, .gib), ("p2-044", "llama-2-70b", 4, .allocated, .gb),
  ].map { fmsAcceleration($0.0, $0.1, .transformers445, accelerated: true, batch: $0.2, $0.3, $0.4) }

  /// The rows whose library versions differ from the modelled ones in a way that changes the
  /// figure (the reason): compared and shown beside the expressed rows, kept out of the accuracy
  /// bar and the verdict margins, and not counted against their recipe (what differs is the
  /// library code the run used, named in the reason).
  public static let otherLibraryVersions: [(mapping: PublishedMapping, reason: String)] =
    [
      ("p2-001", "mistral-7b-v0.1", 4, Figure.process, Unit.gib), ("p2-002", "mistral-7b-v0.1", 4, .allocated, .gb),
      ("p2-003", "mistral-7b-v0.1", 8, .process, .gib), ("p2-004", "mistral-7b-v0.1", 8, .allocated, .gb),
      ("p2-005", "llama-2-70b", 4, .process, .gib), ("p2-006", "llama-2-70b", 4, .allocated, .gb),
    ].map {
      (fmsAcceleration($0.0, $0.1, .transformers448, accelerated: true, batch: $0.2, $0.3, $0.4), shiftedLogitsCopy)
    }
    + [
      ("p2-007", 4, Figure.process, Unit.gib), ("p2-008", 4, .allocated, .gb), ("p2-009", 8, .process, .gib),
      ("p2-010", 8, .allocated, .gb),
    ].map {
      (
        fmsAcceleration($0.0, "mistral-7b-v0.1", .transformers448, accelerated: false, batch: $0.1, $0.2, $0.3),
        shiftedLogitsCopy + " " + float32Adapters
      )
    }
    + [
      ("p2-045", 4, Figure.process, Unit.gib), ("p2-046", 4, .allocated, .gb), ("p2-047", 8, .process, .gib),
      ("p2-048", 8, .allocated, .gb),
    ].map {
      (
        fmsAcceleration($0.0, "mistral-7b-v0.1", .transformers445, accelerated: false, batch: $0.1, $0.2, $0.3),
        float32Adapters
      )
    }

  /// The out-of-memory reports that map: the benchmark's one-GPU Llama-2-70B runs that did not
  /// finish. Each is compared with our process peak at the row's setup; its verdict must not be
  /// `fits` (``PublishedComparison/isWrongFit``).
  public static let outOfMemoryReports: [PublishedMapping] = [
    ("o-001", FMSRelease.transformers448, true, 8), ("o-002", .transformers448, false, 4),
    ("o-003", .transformers448, false, 8), ("o-006", .transformers445, true, 8), ("o-007", .transformers445, false, 4),
    ("o-008", .transformers445, false, 8),
  ].map { fmsAcceleration($0.0, "llama-2-70b", $0.1, accelerated: $0.2, batch: $0.3, .process, .gib) }

  /// Why a row of more-runs.json or oom-reports.json does not map; nil for any other row.
  static func moreRunsReason(_ row: [String: Any]) -> String? {
    guard let id = row["id"] as? String, id.hasPrefix("p2-") || id.hasPrefix("o-") else { return nil }
    if (row["num_gpus"] as? Int ?? 1) > 1 {
      return
        "accelerate FSDP (FULL_SHARD) with bf16 autocast and the plugin's bf16 quant_storage: how accelerate 1.0.1 "
        + "and FSDP hold peft's fp32 adapters beside the bf16 base and which mixed-precision policy applies were not read "
        + "here"
    }
    if (row["hf_model_id"] as? String ?? "").contains("Mixtral") {
      return "Mixtral under transformers 4.48: its experts are nn.Linear modules, which bitsandbytes quantizes; the "
        + "accelerated config's dtype rules (llama-factory) come with transformers 5's bf16 fused experts, and the "
        + "baseline config's (qlora-paper) carry the baseline Mistral rows' fp32 adapters"
    }
    return "not mapped"
  }

  /// The two releases of the benchmark's reference file: its library versions and loss.
  enum FMSRelease {
    /// 9239802 (2024-11-14): transformers 4.45.2, trl 0.11.4; the model's forward upcasts the logits.
    case transformers445
    /// 876e2ed (file of 24bdadb, 2025-02-07): transformers 4.48.1, trl 0.13.0; the loss upcasts them.
    case transformers448

    var versions: String {
      switch self {
      case .transformers445:
        return "reference file of 9239802 (refs/requirements.txt: torch 2.4.1, transformers 4.45.2, peft 0.13.2, "
          + "bitsandbytes 0.43.3, trl 0.11.4, accelerate 1.0.1); transformers 4.45's MistralForCausalLM and "
          + "LlamaForCausalLM return logits.float() and shift them with a copy: the fp32-logits loss"
      case .transformers448:
        return "reference file of 876e2ed (refs/requirements.txt: torch 2.4.1, transformers 4.48.1, peft 0.13.2, "
          + "bitsandbytes 0.43.3, trl 0.13.0, accelerate 1.0.1); loss mapped as `standard` (see the reason)"
      }
    }
    var loss: LossKind { self == .transformers445 ? .fp32Logits : .standard }
  }

  /// The setup of one row of the benchmark (scenarios.yaml and defaults.yaml, unchanged between the
  /// two releases): r 16, alpha 16, dropout 0.1 on q, k, v, o; 4,096-token packed rows; flash
  /// attention; bf16 autocast; gradient checkpointing; AdamW; HF Trainer; one A100-80GB.
  /// `accelerated`: the accelerated-peft-bnb config (the llama-factory recipe's dtype rules), else
  /// baseline-peft-bnb (TRL's preparation: the qlora-paper recipe's, but for the adapters).
  private static func fmsAcceleration(
    _ id: String, _ model: String, _ release: FMSRelease, accelerated: Bool, batch: Int64, _ figure: Figure,
    _ unit: Unit
  ) -> PublishedMapping {
    PublishedMapping(
      id, model, gpu: "a100-80gb", figure, unit,
      [
        .recipe(accelerated ? .llamaFactory : .qloraPaper), .doubleQuantization(true), .computeDtype(.bf16), .rank(16),
        .alpha(16), .targets(.modules(["q_proj", "k_proj", "v_proj", "o_proj"])), .loraDropout(0.1),
        .sequenceLength(4096), .batchSize(batch), .attention(.flash), .autocast(true), .loss(release.loss),
        .optimizer(.adamw), .gradientCheckpointing(true), .loop(.trainer),
      ],
      assumptions: [release.versions] + fmsAccelerationSetup
        + [accelerated ? acceleratedPreparation : baselinePreparation])
  }

  private static let fmsAccelerationSetup = [
    "fms-acceleration 876e2ed scripts/benchmarks: scenarios.yaml r 16, lora_alpha 16, lora_dropout 0.1, target_modules "
      + "q,k,v,o (and c_attn, which only gpt_bigcode has), bf16 True, torch_dtype bfloat16; defaults.yaml "
      + "use_flash_attn True, gradient_checkpointing True (transformers' default: reentrant), no accumulation; "
      + "optimizer transformers' default adamw_torch",
    "benchmark.py defaults packing_matrix True, max_seq_len_matrix 4096: TRL's ConstantLengthDataset yields "
      + "rows of exactly 4,096 tokens; batch = effective batch (4 or 8) on one GPU",
    "plugin loader (framework_plugin_bnb.py): BitsAndBytesConfig(load_in_4bit, nf4, bnb_4bit_use_double_quant=True, "
      + "compute dtype bf16); transformers 4.x loads shard by shard on one thread (the llama-factory recipe's loader is "
      + "transformers 5's threaded one)",
    "GPU: the file's a100_80gb: a100-80gb; nvidia-smi figure (peak minus the first reading): our process figure; "
      + "peak allocated: HF Trainer's train-stage torch.cuda.max_memory_allocated",
  ]
  private static let acceleratedPreparation =
    "accelerated-peft-bnb: the plugin's own _prepare_model_for_kbit_training (freeze, enable_input_require_grads, "
    + "gradient_checkpointing_enable; no upcast) and get_peft_model (peft's fp32 adapters): base, embeddings and norms "
    + "bf16, adapters fp32 = the llama-factory recipe's dtype rules"
  private static let baselinePreparation =
    "baseline-peft-bnb (no_peft_model true): TRL's SFTTrainer.__init__ (trl v0.13.0 sft_trainer.py L168-233, v0.11.4 "
    + "L243-275) runs "
    + "peft 0.13.2's prepare_model_for_kbit_training (non-4-bit parameters to fp32), get_peft_model (adapters fp32) and "
    + "peft_module_casting_to_bf16 (trainer/utils.py: norms fp32, embed_tokens and lm_head back to bf16) = the "
    + "qlora-paper recipe's dtype rules but for the adapters, fp32 here and bf16 in the recipe: 8 B per trainable "
    + "parameter more (fp32 value, gradient and two moments), 0.11 GB on Mistral-7B, 0.52 GB on Llama-2-70B, not in "
    + "the estimate"

  /// What transformers 4.48.1's loss keeps that the estimator's `standard` loss does not.
  private static let shiftedLogitsCopy =
    "transformers 4.46-4.49's ForCausalLMLoss upcasts the logits and shifts them with a copy (`logits = "
    + "logits.float()`, `shift_logits = logits[..., :-1, :].contiguous()`; fms-acceleration 24bdadb's "
    + "FastForCausalLMLoss is 'adapted from transformers.loss.loss_utils.ForCausalLMLoss') beside the bf16 logits the "
    + "output keeps: one fp32 logits copy (tokens x 32,000 x 4 B, 2.10 GB at 4 x 4,096 tokens) more at the loss than "
    + "the `standard` loss (transformers 5: labels padded, no copy), and not the fp32 output logits of `fp32-logits` "
    + "(<= 4.45); not modelled"

  /// What keeps the baseline rows out of the validated ones: TRL's adapters stay fp32.
  private static let float32Adapters =
    "TRL's preparation keeps peft's adapters fp32 where the qlora-paper recipe casts them to bf16 (qlora.py "
    + "`module.to(torch.bfloat16)` on every LoraLayer): 8 B per trainable parameter more (0.11 GB on Mistral-7B) and "
    + "the autocast casts of the adapters; no recipe has the qlora-paper dtypes with fp32 adapters. The fp32 "
    + "residual stream these rows show (p2-008 - p2-002, peak allocated at batch 4 = 4,295,499,776 B: 2 B x 4,096 x "
    + "16,384 tokens x 32 + 532,480 B of fp32 norm weights) is modelled"
}

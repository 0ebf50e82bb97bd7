import QLoRABudget

/// LLaMA-Factory's training YAML (`llamafactory-cli train FILE`): hparams/model_args.py,
/// finetuning_args.py, data_args.py, and transformers' TrainingArguments.
extension ConfigReading {
  mutating func readLlamaFactory() throws(TrainingConfigError) {
    useDefault("recipe", "LLaMA-Factory", .recipe(.llamaFactory))
    // finetuning_args.py: lora_rank 8, lora_dropout 0, lora_target "all"; TrainingArguments:
    // per_device_train_batch_size 8; data_args.py: cutoff_len 2048.
    useDefault("lora_rank", "8", .rank(8))
    useDefault("lora_dropout", "0", .loraDropout(0))
    useDefault("lora_target", "all", .targets(.allLinear))
    useDefault("per_device_train_batch_size", "8", .batchSize(8))
    useDefault("cutoff_len", "2048", .sequenceLength(2048))
    useDefault("quantization_bit", "none", .quantization(.none))
    try setModel("model_name_or_path")

    if let stage = try text("stage") {
      stage == "sft" || stage == "pt"
        ? use("stage", remark: "one forward and backward per sample")
        : note(
          "stage", "stage '\(stage)' is not modelled; estimated as sft (one sequence per sample, no reference model)")
    }
    if let type = try text("finetuning_type") {
      switch type {
      case "lora": use("finetuning_type", .fullFineTune(false))
      case "full": use("finetuning_type", .fullFineTune(true))
      default: note("finetuning_type", "finetuning_type '\(type)' is not modelled; estimated as lora")
      }
    }
    try readRank("lora_rank")
    try readAlpha("lora_alpha")
    try readDropout("lora_dropout")
    if let targets = try names("lora_target") {
      use("lora_target", .targets(targets == ["all"] ? .allLinear : .modules(targets)))
    }
    try readFlag("use_dora") { .dora($0) }
    // finetuning_args.py: "Name(s) of modules apart from LoRA layers to be set as trainable and saved".
    try readModulesToSave("additional_target")
    try readQuantization()
    try readSequenceLength("cutoff_len")
    try readBatchSize("per_device_train_batch_size")
    try readFlag("gradient_checkpointing") { .gradientCheckpointing($0) }
    try readFlag("disable_gradient_checkpointing") { .gradientCheckpointing(!$0) }
    if let attention = try text("flash_attn") {
      switch attention {
      case "auto", "sdpa": use("flash_attn", .attention(.sdpa))
      case "fa2": use("flash_attn", .attention(.flash))
      case "disabled": use("flash_attn", .attention(.eager))
      default: throw invalid("flash_attn", "use one of auto, disabled, sdpa, fa2")
      }
    }
    try readHuggingFaceOptimizer("optim")
    try readPrecision()
    if try bool("pure_bf16") == true {
      note(
        "pure_bf16", "pure bf16 (no fp32 copy of the trainable parameters) is not modelled; adapters counted in fp32")
    }
    try readDeepSpeed("deepspeed")
    if try bool("use_unsloth") == true { use("use_unsloth", .recipe(.unsloth)) } else { consume("use_unsloth", "off") }
    try readFlag("enable_liger_kernel") { .loss($0 ? .liger : .standard) }
    try readPacking("packing")
  }

  /// `quantization_bit` 4 or 8 with `quantization_method` bitsandbytes, `quantization_type`,
  /// `double_quantization` (model_args.py: nf4 and double quantization by default).
  private mutating func readQuantization() throws(TrainingConfigError) {
    if let method = try text("quantization_method") {
      if ["bitsandbytes", "bnb"].contains(method) {
        use("quantization_method", remark: "bitsandbytes")
      } else {
        note("quantization_method", "'\(method)' is not modelled; nearest used: bitsandbytes with the same bit width")
      }
    }
    guard let bits = try integer("quantization_bit", in: 1...16) else { return }
    switch bits {
    case 4:
      let type = try text("quantization_type") ?? "nf4"
      guard let quantization = BaseQuantization(rawValue: type), quantization == .nf4 || quantization == .fp4 else {
        throw invalid("quantization_type", "use nf4 or fp4")
      }
      use("quantization_bit", .quantization(quantization), .doubleQuantization(true))
      if has("quantization_type") { use("quantization_type", .quantization(quantization)) }
      if let dq = try bool("double_quantization") { use("double_quantization", .doubleQuantization(dq)) }
    case 8: use("quantization_bit", .quantization(.int8))
    default: throw invalid("quantization_bit", "bitsandbytes quantizes to 4 or 8 bits")
    }
  }
}

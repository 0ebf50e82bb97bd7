import QLoRABudget

/// transformers' `TrainingArguments` and TRL's `SFTConfig` as JSON (`to_json_string()`), with
/// the `BitsAndBytesConfig` fields (flat, or under `quantization_config` as a model's
/// config.json has them) and the PEFT `LoraConfig` fields (flat, or under `peft_config`).
/// Also PEFT's `adapter_config.json` alone.
extension ConfigReading {
  mutating func readHuggingFace() throws(TrainingConfigError) {
    // TRL's SFTConfig (its own keys) trains with SFTTrainer: the trl recipe, checkpointing on by
    // default (sft_config.py); plain TrainingArguments with peft: hf-peft, checkpointing off.
    let sftKeys = [
      "max_length", "max_seq_length", "packing", "dataset_text_field", "completion_only_loss", "assistant_only_loss",
    ]
    if sftKeys.contains(where: has) {
      useDefault("recipe", "trl (SFTConfig keys)", .recipe(.trl))
    } else {
      useDefault("recipe", "transformers + peft", .recipe(.hfPeft))
      useDefault("gradient_checkpointing", "false", .gradientCheckpointing(false))
    }
    // TrainingArguments: per_device_train_batch_size 8.
    useDefault("per_device_train_batch_size", "8", .batchSize(8))
    useDefault("quantization", "none (no BitsAndBytesConfig)", .quantization(.none))
    try setModel("model_name_or_path")
    try readBatchSize("per_device_train_batch_size")
    try readFlag("gradient_checkpointing") { .gradientCheckpointing($0) }
    try readHuggingFaceOptimizer("optim")
    try readPrecision()
    if try bool("bf16") != true, try bool("fp16") != true {
      note(
        has("bf16") ? "bf16" : "fp16",
        "neither bf16 nor fp16: fp32 training is not modelled; estimated with bf16 autocast (a lower bound)")
    }
    // SFTConfig: max_length (TRL >= 0.20), max_seq_length before.
    try readSequenceLength("max_length")
    try readSequenceLength("max_seq_length")
    try readPacking("packing")
    // Trainer's use_liger_kernel patches the model with Liger's kernels, whose
    // fused_linear_cross_entropy is on by default (liger_kernel transformers/monkey_patch.py).
    try readFlag("use_liger_kernel") { .loss($0 ? .liger : .standard) }
    try readDeepSpeed("deepspeed")
    try readFSDP("fsdp")
    if let attention = try text("model_init_kwargs.attn_implementation") {
      try readAttentionImplementation("model_init_kwargs.attn_implementation", attention)
    }
    // TRL's ModelConfig (the trl CLI's --lora_modules_to_save).
    try readModulesToSave("lora_modules_to_save")
    try readBitsAndBytes(prefix: has("quantization_config") ? "quantization_config." : "")
    try readPeftAdapter(prefix: has("peft_config") ? "peft_config." : "")
  }

  /// The `BitsAndBytesConfig` fields.
  mutating func readBitsAndBytes(prefix: String) throws(TrainingConfigError) {
    if try bool(prefix + "load_in_4bit") == true {
      let type = try text(prefix + "bnb_4bit_quant_type") ?? "fp4"  // BitsAndBytesConfig's default is fp4
      guard let quantization = BaseQuantization(rawValue: type), quantization == .nf4 || quantization == .fp4 else {
        throw invalid(prefix + "bnb_4bit_quant_type", "use nf4 or fp4")
      }
      let doubleQuant = try bool(prefix + "bnb_4bit_use_double_quant") ?? false
      use(prefix + "load_in_4bit", .quantization(quantization), .doubleQuantization(doubleQuant))
      if has(prefix + "bnb_4bit_quant_type") { use(prefix + "bnb_4bit_quant_type", .quantization(quantization)) }
      if has(prefix + "bnb_4bit_use_double_quant") {
        use(prefix + "bnb_4bit_use_double_quant", .doubleQuantization(doubleQuant))
      }
      if let dtype = try text(prefix + "bnb_4bit_compute_dtype") {
        guard let compute = FrameworkVocabulary.computeDtype(dtype) else {
          throw invalid(prefix + "bnb_4bit_compute_dtype", "use bfloat16 or float16 (float32 compute is not modelled)")
        }
        use(prefix + "bnb_4bit_compute_dtype", .computeDtype(compute))
      }
    } else if try bool(prefix + "load_in_8bit") == true {
      use(prefix + "load_in_8bit", .quantization(.int8))
    }
    consume(prefix + "load_in_4bit", "off")
    consume(prefix + "load_in_8bit", "off")
    consume(prefix + "quant_method", "the quantization the load_in keys name")
  }

  /// PEFT's `LoraConfig` fields (adapter_config.json); defaults r 8, dropout 0, and peft's
  /// per-architecture default targets when `target_modules` is absent.
  mutating func readPeftAdapter(prefix: String) throws(TrainingConfigError) {
    let isAdapterFile = prefix.isEmpty && has("peft_type")
    guard isAdapterFile || has(prefix + "r") || has(prefix + "target_modules") || has(prefix + "lora_alpha") else {
      return
    }
    if isAdapterFile { useDefault("recipe", "transformers + peft", .recipe(.hfPeft)) }
    useDefault(prefix + "r", "8", .rank(8))
    useDefault(prefix + "lora_alpha", "8", .alpha(8))
    useDefault(prefix + "lora_dropout", "0", .loraDropout(0))
    useDefault(prefix + "target_modules", "peft's default for the architecture", .targets(.peftDefault))
    if let type = try text(prefix + "peft_type") {
      type.uppercased() == "LORA"
        ? use(prefix + "peft_type", .fullFineTune(false))
        : note(prefix + "peft_type", "peft_type '\(type)' is not modelled; estimated as LORA")
    }
    if model == nil { try setModel(prefix + "base_model_name_or_path") }
    try readRank(prefix + "r")
    try readAlpha(prefix + "lora_alpha")
    try readDropout(prefix + "lora_dropout")
    try readFlag(prefix + "use_dora") { .dora($0) }
    if let modules = try names(prefix + "target_modules") {
      use(prefix + "target_modules", .targets(modules == ["all-linear"] ? .allLinear : .modules(modules)))
    }
    try readModulesToSave(prefix + "modules_to_save")
    if try bool(prefix + "ensure_weight_tying") == true {
      note(
        prefix + "ensure_weight_tying",
        "tying the saved copies of tied embeddings back together is not modelled; "
          + "each listed module counted as its own copy (an upper bound)")
    }
    if has(prefix + "trainable_token_indices") {
      note(
        prefix + "trainable_token_indices",
        "trainable token rows are not modelled: their parameters are small, but "
          + "each forward builds a full vocab x hidden copy of the embedding (index_copy) and backward its dense gradient"
      )
    }
  }

  /// transformers' `attn_implementation`.
  mutating func readAttentionImplementation(_ keyPath: String, _ name: String) throws(TrainingConfigError) {
    switch name {
    case "eager": use(keyPath, .attention(.eager))
    case "sdpa": use(keyPath, .attention(.sdpa))
    case "flash_attention_2", "flash_attention_3", "kernels-community/flash-attn": use(keyPath, .attention(.flash))
    default: note(keyPath, "attention '\(name)' is not modelled; nearest used: sdpa")
    }
  }
}

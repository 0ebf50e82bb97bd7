import QLoRABudget

/// Axolotl's YAML (`axolotl train FILE`): src/axolotl/utils/schemas/config.py; the axolotl
/// recipe (docs/recipes.md).
extension ConfigReading {
  mutating func readAxolotl() throws(TrainingConfigError) {
    useDefault("recipe", "axolotl", .recipe(.axolotl))
    try setModel("base_model")

    let fourBit = try bool("load_in_4bit") ?? false
    let eightBit = try bool("load_in_8bit") ?? false
    let adapter = try text("adapter")
    switch adapter {
    case nil:
      use("adapter", .fullFineTune(true))
    case "qlora":
      // Axolotl's BitsAndBytesConfig for qlora: nf4 with double quantization.
      use("adapter", .fullFineTune(false), .quantization(.nf4), .doubleQuantization(true))
      if has("load_in_4bit") { use("load_in_4bit", .quantization(.nf4)) }
    case "lora":
      let quantization: BaseQuantization = fourBit ? .nf4 : eightBit ? .int8 : .none
      use("adapter", .fullFineTune(false), .quantization(quantization), .doubleQuantization(true))
      if fourBit { use("load_in_4bit", .quantization(.nf4)) }
      if eightBit { use("load_in_8bit", .quantization(.int8)) }
    case let other?:
      note("adapter", "adapter '\(other)' is not modelled; estimated as lora")
    }
    for keyPath in ["load_in_4bit", "load_in_8bit"] {
      let on = try bool(keyPath) == true
      consume(keyPath, on ? "not applied: adapter '\(adapter ?? "none")' decides the quantization" : "off")
    }
    try readRank("lora_r")
    try readAlpha("lora_alpha")
    try readDropout("lora_dropout")
    try readFlag("peft_use_dora") { .dora($0) }
    if try bool("lora_target_linear") == true {
      use("lora_target_linear", .targets(.allLinear))
      consume("lora_target_modules", "not applied: lora_target_linear adapts every linear layer")
    } else if let modules = try names("lora_target_modules") {
      if modules.contains(where: { $0.contains(where: { "[]()|*+?\\".contains($0) }) }) {
        note(
          "lora_target_modules",
          "a regular expression of module names is not modelled; estimated for all linear layers",
          .targets(.allLinear))
      } else {
        use("lora_target_modules", .targets(modules == ["all-linear"] ? .allLinear : .modules(modules)))
      }
    }
    try readModulesToSave("lora_modules_to_save")
    try readSequenceLength("sequence_len")
    try readPacking("sample_packing")
    try readBatchSize("micro_batch_size")
    let checkpointing = try text("gradient_checkpointing")?.lowercased()
    if checkpointing == "unsloth" || checkpointing == "offload" {
      note(
        "gradient_checkpointing", "offloaded checkpointing is not modelled here; estimated with checkpoints on the GPU",
        .gradientCheckpointing(true))
    } else {
      try readFlag("gradient_checkpointing") { .gradientCheckpointing($0) }
    }
    try readAttention()
    try readHuggingFaceOptimizer("optimizer")
    try readPrecision()
    try readDeepSpeed("deepspeed")
    try readFSDP("fsdp", offloadKey: "fsdp_config.fsdp_offload_params")
    try readFlag("liger_fused_linear_cross_entropy") { .loss($0 ? .liger : .standard) }
    try readFlag("cut_cross_entropy") { .loss($0 ? .chunked : .standard) }
    // Cut Cross-Entropy never materialises the logits: the chunked loss is the nearest model.
    if try names("plugins")?.contains(where: { $0.hasSuffix("CutCrossEntropyPlugin") }) == true {
      use("plugins", .loss(.chunked))
    }
  }

  /// `attn_implementation`, else `flash_attention`, `sdp_attention`, `xformers_attention`,
  /// `eager_attention`: the first that is on (Axolotl's own precedence).
  private mutating func readAttention() throws(TrainingConfigError) {
    // Newer configs name transformers' attn_implementation directly; it decides when given.
    if let implementation = try text("attn_implementation") {
      try readAttentionImplementation("attn_implementation", implementation)
    } else if try bool("flash_attention") == true {
      use("flash_attention", .attention(.flash))
    } else if try bool("sdp_attention") == true {
      use("sdp_attention", .attention(.sdpa))
    } else if try bool("xformers_attention") == true {
      note(
        "xformers_attention",
        "xformers attention is not modelled; nearest used: sdpa (memory-efficient, no s x s scores)",
        .attention(.sdpa))
    } else if try bool("eager_attention") == true {
      use("eager_attention", .attention(.eager))
    }
    for keyPath in ["flash_attention", "sdp_attention", "xformers_attention", "eager_attention"] {
      consume(
        keyPath,
        try bool(keyPath) == true
          ? "not applied: attn_implementation or an attention switch before it in Axolotl's order decides" : "off")
    }
  }
}

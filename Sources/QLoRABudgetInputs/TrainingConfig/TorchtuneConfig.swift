import QLoRABudget

/// torchtune's recipe YAML (`tune run lora_finetune_single_device --config FILE`): the model
/// builder and its LoRA arguments, batch size, sequence length, checkpointing, optimizer.
extension ConfigReading {
  mutating func readTorchtune() throws(TrainingConfigError) {
    useDefault("recipe", "torchtune", .recipe(.torchtune))
    try readBuilder()
    try readRank("model.lora_rank")
    try readAlpha("model.lora_alpha")
    try readDropout("model.lora_dropout")
    try readFlag("model.use_dora") { .dora($0) }
    if let attention = try names("model.lora_attn_modules") {
      let mlp = try bool("model.apply_lora_to_mlp") ?? false
      use(
        "model.lora_attn_modules",
        .targets(.modules(FrameworkVocabulary.torchtuneTargets(attention: attention, mlp: mlp))))
      if has("model.apply_lora_to_mlp") {
        use("model.apply_lora_to_mlp", remark: mlp ? "gate_proj, up_proj, down_proj" : "no MLP adapters")
      }
    }
    if try bool("model.apply_lora_to_output") == true {
      note("model.apply_lora_to_output", "a LoRA adapter on the output projection (lm_head) is not modelled")
    } else {
      consume("model.apply_lora_to_output", "off")
    }
    if try bool("model.quantize_base") == true { use("model.quantize_base", .quantization(.nf4)) }
    try readBatchSize("batch_size")
    for keyPath in ["max_seq_len", "tokenizer.max_seq_len", "dataset.max_seq_len"] where has(keyPath) {
      try readSequenceLength(keyPath)
    }
    if !has("max_seq_len") && !has("tokenizer.max_seq_len") && !has("dataset.max_seq_len") {
      note(
        "tokenizer.max_seq_len",
        "no max_seq_len: sequences are as long as the data's; the estimate uses the seq_len setting (default 2048)")
    }
    try readFlag("enable_activation_checkpointing") { .gradientCheckpointing($0) }
    if try bool("enable_activation_offloading") == true {
      note(
        "enable_activation_offloading",
        "activation offloading to the CPU is not modelled; estimated with activations on the GPU")
    } else {
      consume("enable_activation_offloading", "off")
    }
    if let compiled = try bool("compile") {
      compiled
        ? note("compile", "torch.compile's fused kernels are not modelled; estimated as eager PyTorch")
        : use("compile", remark: "eager PyTorch")
    }
    if let component = try text("optimizer._component_") {
      if let optimizer = FrameworkVocabulary.optimizer(torchtune: component) {
        let momentum = try number("optimizer.momentum", in: 0...1) ?? 0
        use("optimizer._component_", .optimizer(optimizer == .sgd && momentum > 0 ? .sgdMomentum : optimizer))
        consume(
          "optimizer.momentum",
          optimizer == .sgd ? "the momentum buffer (sgd with momentum > 0)" : "no bearing on this optimizer's state")
      } else {
        note("optimizer._component_", "optimizer '\(component)' is not modelled; nearest used: adamw")
      }
    }
    if let dtype = try text("dtype") {
      if let compute = FrameworkVocabulary.computeDtype(dtype) {
        use("dtype", .computeDtype(compute))
      } else {
        throw invalid("dtype", "use bf16 or fp16 (fp32 training is not modelled)")
      }
    }
    if let loss = try text("loss._component_") {
      loss.hasSuffix("CEWithChunkedOutputLoss")
        ? use("loss._component_", remark: "the torchtune recipe's chunked output loss")
        : note("loss._component_", "loss '\(loss)' is not modelled; the torchtune recipe's chunked output loss is used")
    }
  }

  /// `model._component_`: the builder names the model and whether the base is NF4.
  private mutating func readBuilder() throws(TrainingConfigError) {
    guard let component = try text("model._component_") else { return }
    let builder = String(component.split(separator: ".").last ?? "")
    guard let (preset, kind) = FrameworkVocabulary.torchtuneBuilder(builder) else {
      note("model._component_", "the model builder '\(builder)' has no preset; give the model as an argument")
      return
    }
    model = preset
    modelKey = key("model._component_")
    switch kind {
    case .qlora: use("model._component_", .fullFineTune(false), .quantization(.nf4), .doubleQuantization(true))
    case .lora: use("model._component_", .fullFineTune(false), .quantization(.none))
    case .full: use("model._component_", .fullFineTune(true))
    }
  }
}

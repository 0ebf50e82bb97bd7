/// Keys several frameworks share (most pass them through to transformers' TrainingArguments).
extension ConfigReading {
  /// `optim` / `optimizer`: transformers' optimizer names.
  mutating func readHuggingFaceOptimizer(_ keyPath: String) throws(TrainingConfigError) {
    guard let name = try text(keyPath) else { return }
    if let optimizer = FrameworkVocabulary.optimizer(huggingFace: name) {
      use(keyPath, .optimizer(optimizer))
    } else {
      note(keyPath, "optimizer '\(name)' is not modelled; nearest used: adamw (two fp32 states, the most memory)")
    }
  }

  /// `bf16` / `fp16` (Axolotl also writes `bf16: auto`, which is bf16 on every GPU that has it).
  mutating func readPrecision(bf16: String = "bf16", fp16: String = "fp16") throws(TrainingConfigError) {
    if try text(bf16)?.lowercased() == "auto" {
      use(bf16, .computeDtype(.bf16))
    } else if let on = try bool(bf16) {
      on ? use(bf16, .computeDtype(.bf16)) : consume(bf16)
    }
    if let on = try bool(fp16) {
      on ? use(fp16, .computeDtype(.fp16)) : consume(fp16)
    }
  }

  /// `deepspeed`: a ZeRO config file; not modelled here.
  mutating func readDeepSpeed(_ keyPath: String) {
    guard has(keyPath) else { return }
    note(keyPath, "DeepSpeed ZeRO is not modelled yet; estimated for one GPU without ZeRO sharding")
  }

  /// `fsdp`: `full_shard` (as a list or words) maps onto the FSDP model, whose GPU count the
  /// launcher decides (give it with --gpus); other strategies and CPU offload are not modelled.
  mutating func readFSDP(_ keyPath: String, offloadKey: String? = nil) throws(TrainingConfigError) {
    guard let words = try names(keyPath)?.flatMap({ $0.split(separator: " ").map(String.init) }) else { return }
    if words.contains("full_shard") || words.contains("hybrid_shard") {
      shardsWithFSDP = true
      use(keyPath, remark: "FSDP full sharding over the GPUs given with --gpus")
    } else if words.contains("shard_grad_op") || words.contains("no_shard") {
      note(keyPath, "FSDP '\(words.joined(separator: " "))' is not modelled; estimated as one GPU holding the whole model")
    } else {
      consume(keyPath)
    }
    if let offloadKey, try bool(offloadKey) == true {
      note(offloadKey, "FSDP CPU offload of parameters is not modelled; the estimate keeps them on the GPU (an upper bound)")
    }
  }

  /// `packing` / `sample_packing`: packing fills each sequence to the length the estimate
  /// already uses, so no byte changes.
  mutating func readPacking(_ keyPath: String) throws(TrainingConfigError) {
    guard let on = try bool(keyPath) else { return }
    use(keyPath, remark: on ? "packed to the sequence length (the estimate's length)" : "not packed; the sequence length is the longest sample")
  }

  /// A LoRA rank key.
  mutating func readRank(_ keyPath: String) throws(TrainingConfigError) {
    if let rank = try integer(keyPath, in: 1...LoRAConfiguration.maximumRank) { use(keyPath, .rank(rank)) }
  }

  mutating func readAlpha(_ keyPath: String) throws(TrainingConfigError) {
    if let alpha = try number(keyPath, in: 1e-6...1e9) { use(keyPath, .alpha(alpha)) }
  }

  mutating func readDropout(_ keyPath: String) throws(TrainingConfigError) {
    if let dropout = try number(keyPath, in: 0...0.999) { use(keyPath, .loraDropout(dropout)) }
  }

  mutating func readSequenceLength(_ keyPath: String) throws(TrainingConfigError) {
    if let tokens = try integer(keyPath, in: 1...TrainingSetup.maximumSequenceLength) { use(keyPath, .sequenceLength(tokens)) }
  }

  mutating func readBatchSize(_ keyPath: String) throws(TrainingConfigError) {
    if let batch = try integer(keyPath, in: 1...TrainingSetup.maximumBatchSize) { use(keyPath, .batchSize(batch)) }
  }

  mutating func readFlag(_ keyPath: String, _ setting: (Bool) -> SettingChange) throws(TrainingConfigError) {
    if let on = try bool(keyPath) { use(keyPath, setting(on)) }
  }
}

import Foundation
import QLoRABudget

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
      on ? use(bf16, .computeDtype(.bf16)) : consume(bf16, "off")
    }
    if let on = try bool(fp16) {
      on ? use(fp16, .computeDtype(.fp16)) : consume(fp16, "off")
    }
  }

  /// `deepspeed`: a DeepSpeed config file, looked for beside the training config, then in the
  /// current folder (where the framework is launched); read as `--deepspeed` reads it. A file
  /// not found is said, and the run is estimated without ZeRO.
  /// `deepspeed: FILE`, read as `--deepspeed FILE` reads it. A config names its DeepSpeed file
  /// relative to its own folder or the launch folder, and the path may not leave them: an
  /// absolute path or a `..` component is not followed (a downloaded config must not make the
  /// tool read files elsewhere); the user gives such a file with `--deepspeed`.
  mutating func readDeepSpeed(_ keyPath: String) throws(TrainingConfigError) {
    guard let file = try text(keyPath) else { return }
    guard !file.hasPrefix("/"), !file.split(separator: "/").contains("..") else {
      note(
        keyPath,
        "the DeepSpeed config '\(file)' is outside the config's folder, so it is not read; estimated without "
          + "ZeRO (give the file on the command line)")
      return
    }
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
    var data: Data?
    for candidate in [folder.appendingPathComponent(file).path, file] where data == nil {
      guard FileManager.default.fileExists(atPath: candidate) else { continue }
      do {
        data = try InputFile.deepSpeedConfig.contents(of: candidate)
      } catch {
        throw invalid(keyPath, "the DeepSpeed config it names: \(error.description)")
      }
    }
    guard let data else {
      note(
        keyPath,
        "the DeepSpeed config '\(file)' is not beside the config or in the current folder; estimated without "
          + "ZeRO (give the DeepSpeed file to the command itself)")
      return
    }
    var engine = TrainingSetup()
    do {
      try DeepSpeedConfigFile.apply(data, to: &engine)
    } catch {
      throw invalid(keyPath, "the DeepSpeed config it names: \(error.description)")
    }
    deepSpeedConfig = data
    use(
      keyPath,
      remark:
        "\(engine.engine.label), offload \(engine.offload.description) over the GPU count given to the command (the gpus setting)"
    )
  }

  /// `fsdp`: `full_shard` (as a list or words) maps onto the FSDP model, whose GPU count the
  /// launcher decides (give it with --gpus); other strategies and CPU offload are not modelled.
  mutating func readFSDP(_ keyPath: String, offloadKey: String? = nil) throws(TrainingConfigError) {
    guard let words = try names(keyPath)?.flatMap({ $0.split(separator: " ").map(String.init) }) else { return }
    if words.contains("full_shard") || words.contains("hybrid_shard") {
      shardsOverGPUs = true
      use(keyPath, remark: "FSDP full sharding over the GPU count given to the command (the gpus setting)")
    } else if words.contains("shard_grad_op") || words.contains("no_shard") {
      note(
        keyPath, "FSDP '\(words.joined(separator: " "))' is not modelled; estimated as one GPU holding the whole model")
    } else {
      consume(keyPath, "no sharding strategy named: not sharded")
    }
    if let offloadKey, let offloads = try bool(offloadKey) {
      use(offloadKey, .offload(offloads ? .parameters : []))
    }
  }

  /// `packing` / `sample_packing`: packing fills each sequence to the length the estimate
  /// already uses, so no byte changes.
  mutating func readPacking(_ keyPath: String) throws(TrainingConfigError) {
    guard let on = try bool(keyPath) else { return }
    use(
      keyPath,
      remark: on
        ? "packed to the sequence length (the estimate's length)"
        : "not packed; the sequence length is the longest sample")
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
    if let tokens = try integer(keyPath, in: 1...TrainingSetup.maximumSequenceLength) {
      use(keyPath, .sequenceLength(tokens))
    }
  }

  mutating func readBatchSize(_ keyPath: String) throws(TrainingConfigError) {
    if let batch = try integer(keyPath, in: 1...TrainingSetup.maximumBatchSize) { use(keyPath, .batchSize(batch)) }
  }

  /// peft's `modules_to_save` under the framework's name: module names, each trained as a full
  /// copy (``SavedModuleCopies``).
  mutating func readModulesToSave(_ keyPath: String) throws(TrainingConfigError) {
    if let modules = try names(keyPath) { use(keyPath, .modulesToSave(modules)) }
  }

  mutating func readFlag(_ keyPath: String, _ setting: (Bool) -> SettingChange) throws(TrainingConfigError) {
    if let on = try bool(keyPath) { use(keyPath, setting(on)) }
  }
}

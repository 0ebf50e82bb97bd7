import QLoRABudget

/// `--engine`, `--nodes`, `--offload` and the DeepSpeed bucket keys: how `--gpus` GPUs share
/// the model. The keys are spelled as in a DeepSpeed `zero_optimization` config and accept
/// the same numbers (`5e7` or `50000000`).
enum EngineOptions {
  static let bucketKeys: [(option: String, key: any WritableKeyPath<DeepSpeedBuckets, Int64> & Sendable, help: String)] = [
    ("--reduce-bucket-size", \.reduceBucketSize, "DeepSpeed reduce_bucket_size: gradient elements reduced at a time."),
    ("--stage3-prefetch-bucket-size", \.prefetchBucketSize, "DeepSpeed ZeRO-3 parameter elements fetched ahead of use."),
    ("--stage3-max-live-parameters", \.maxLiveParameters, "DeepSpeed ZeRO-3 parameter elements gathered at once, at most."),
    ("--stage3-param-persistence-threshold", \.persistenceThreshold, "DeepSpeed ZeRO-3: tensors this small are not partitioned."),
  ]

  static let specs: [OptionSpec] = [
    .value("--engine", "name", "How --gpus GPUs share the model: FSDP FULL_SHARD or HYBRID_SHARD, or DeepSpeed ZeRO stage 1, 2, 3.",
      values: ParallelEngine.allCases.map(\.rawValue), default: "fsdp"),
    .value("--nodes", "n", "Machines the GPUs are in (a divisor of --gpus); fsdp-hybrid shards within one.", default: "1"),
    .value("--offload", "what", "Move to host memory: optimizer (ZeRO offload_optimizer), params (ZeRO-3 offload_param, "
      + "FSDP CPUOffload), or both joined by a comma.", values: ["none", "optimizer", "params", "optimizer,params"], default: "none"),
  ] + bucketKeys.map { .value($0.option, "elements", $0.help, default: String(DeepSpeedBuckets()[keyPath: $0.key])) }

  /// Sets the engine fields of `setup` from the options; the estimator checks the combination.
  static func apply(_ arguments: ParsedArguments, to setup: inout TrainingSetup) throws(UsageError) {
    if let engine = try arguments.choice("--engine", as: ParallelEngine.self) { setup.engine = engine }
    if let nodes = try arguments.integer("--nodes", in: 1...TrainingSetup.maximumGPUCount) { setup.nodeCount = nodes }
    if let text = arguments.value("--offload") { setup.offload = try offload(text) }
    for bucket in bucketKeys {
      guard let value = try arguments.number(bucket.option, in: 0...1e15) else { continue }
      guard value == value.rounded() else {
        throw .invalidValue(arguments.value(bucket.option) ?? "", for: bucket.option, "expected a whole number of elements")
      }
      setup.deepSpeed[keyPath: bucket.key] = Int64(value)
    }
  }

  static func offload(_ text: String) throws(UsageError) -> EngineOffload {
    var offload: EngineOffload = []
    for part in text.lowercased().split(separator: ",", omittingEmptySubsequences: false) {
      switch part.trimmingCharacters(in: .whitespaces) {
      case "none": continue
      case "optimizer": offload.insert(.optimizer)
      case "params", "parameters": offload.insert(.parameters)
      default: throw .invalidValue(text, for: "--offload", "use none, optimizer, params, or optimizer,params")
      }
    }
    return offload
  }
}

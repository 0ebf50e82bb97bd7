/// A training setup that cannot be estimated: the field and the value, and why.
public enum SetupError: Error, Hashable, Sendable, CustomStringConvertible {
  /// A setting's value outside what the estimator accepts.
  case outOfRange(setting: Setting, value: String, allowed: String)
  case unknownTargetModule(name: String, model: String, available: [String])
  case noTargetModules(model: String)
  /// peft's default targets asked for a `model_type` peft has no default for (it raises).
  case noPeftDefaultTargets(modelType: String, model: String)
  /// One transformers 4 name of an expert pair peft fuses into one transformers 5 parameter,
  /// without the other (peft raises `ValueError`: "Cannot convert PEFT target(s) ...").
  case partialFusedExpertTargets(named: [String], missing: [String], fused: String, model: String)
  /// An estimate whose byte counts would not fit in 63 bits.
  case overflow(component: String)

  public var description: String {
    switch self {
    case .outOfRange(let setting, let value, let allowed):
      return "\(setting.label) \(value) is out of range: \(allowed)"
    case .unknownTargetModule(let name, let model, let available):
      return "target module '\(name)' is not a linear layer of '\(model)'; its linear layers are "
        + available.joined(separator: ", ")
    case .noTargetModules(let model):
      return "no LoRA target modules match any linear layer of '\(model)'"
    case .noPeftDefaultTargets(let modelType, let model):
      return "peft has no default LoRA target modules for model_type '\(modelType)' ('\(model)') and raises "
        + "when none are given; use all-linear or name the modules to adapt"
    case .partialFusedExpertTargets(let named, let missing, let fused, let model):
      return "target module(s) \(named.joined(separator: ", ")) of '\(model)' are fused with "
        + "\(missing.joined(separator: ", ")) into \(fused) in transformers 5, and peft raises ValueError when only "
        + "part of them is named; name all of them"
    case .overflow(let component):
      return "the \(component) bytes of this setup overflow a 64-bit count; the setup is too large to estimate"
    }
  }
}

extension TrainingSetup {
  /// The largest sequence length accepted (2^24 tokens) and batch size (2^16).
  public static let maximumSequenceLength: Int64 = 1 << 24
  public static let maximumBatchSize: Int64 = 1 << 16
  /// The 4-bit block sizes bitsandbytes accepts: the one rule every reader of a block size
  /// (``Setting/blockSize``, ``validate()``, the CLI's `quantize`) checks against.
  public static let blockSizes: [Int64] = [32, 64, 128, 256, 512, 1024, 2048, 4096]
  /// The most GPUs a run may be sharded over.
  public static let maximumGPUCount: Int64 = 4096

  /// Checks every numeric field; the estimator calls this before computing anything.
  public func validate() throws(SetupError) {
    if !isFullFineTune {
      try Self.check(.rank, lora.rank, 1...LoRAConfiguration.maximumRank)
      guard loraDropout.isFinite, (0..<1).contains(loraDropout) else {
        throw .outOfRange(setting: .loraDropout, value: String(loraDropout), allowed: "a number in [0, 1)")
      }
      guard lora.alpha.isFinite, lora.alpha > 0 else {
        throw .outOfRange(setting: .alpha, value: String(lora.alpha), allowed: "a positive number")
      }
      if quantization.isFourBit {
        guard Self.blockSizes.contains(blockSize) else {
          throw .outOfRange(
            setting: .blockSize, value: String(blockSize), allowed: Setting.blockSize.domain.description)
        }
      }
    }
    if usesChunkedCrossEntropy, lossImplementation == nil {
      throw .outOfRange(
        setting: .loss, value: "chunked",
        allowed:
          "standard, or a named implementation (\(LossKind.allCases.filter { $0.implementation != nil }.map(\.rawValue).joined(separator: ", "))): "
          + "recipe \(recipe.name) has no chunked loss")
    }
    try Self.check(.sequenceLength, sequenceLength, 1...Self.maximumSequenceLength)
    try Self.check(.batchSize, batchSize, 1...Self.maximumBatchSize)
    try Self.check(.gpuCount, gpuCount, 1...Self.maximumGPUCount)
    try validateEngine()
  }

  /// The engine options: nodes that divide the GPUs, offloads the engine has, bucket sizes.
  private func validateEngine() throws(SetupError) {
    guard (1...gpuCount).contains(nodeCount), gpuCount % nodeCount == 0 else {
      throw .outOfRange(
        setting: .nodeCount, value: String(nodeCount),
        allowed: "a divisor of the GPU count \(gpuCount) (the same GPUs in every node)")
    }
    if offload.contains(.parameters), engine.isDeepSpeed, engine != .zero3 {
      throw .outOfRange(
        setting: .offload, value: offload.description,
        allowed: "parameter offload needs zero3, fsdp or fsdp-hybrid (DeepSpeed's offload_param is a ZeRO-3 option)")
    }
    if offload.contains(.optimizer), !engine.isDeepSpeed {
      throw .outOfRange(
        setting: .offload, value: offload.description,
        allowed:
          "FSDP offloads parameters (CPUOffload also moves the gradients and the optimizer step); optimizer offload needs zero1, zero2 or zero3"
      )
    }
    guard engine.isDeepSpeed else { return }
    let buckets = deepSpeed
    let keys: [(Setting, Int64?)] = [
      (.reduceBucketSize, buckets.reduceBucketSize), (.prefetchBucketSize, buckets.prefetchBucketSize),
      (.maxLiveParameters, buckets.maxLiveParameters), (.persistenceThreshold, buckets.persistenceThreshold),
    ]
    for case (let setting, let value?) in keys where !(0...Setting.maximumBucketElements).contains(value) {
      throw .outOfRange(
        setting: setting, value: String(value), allowed: "0 to \(Setting.maximumBucketElements) elements")
    }
  }

  private static func check(_ setting: Setting, _ value: Int64, _ range: ClosedRange<Int64>) throws(SetupError) {
    guard range.contains(value) else {
      throw .outOfRange(setting: setting, value: String(value), allowed: "\(range.lowerBound) to \(range.upperBound)")
    }
  }
}

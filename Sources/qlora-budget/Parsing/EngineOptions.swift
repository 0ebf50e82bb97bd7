import Foundation
import QLoRABudget

/// `--engine`, `--nodes`, `--offload`, `--deepspeed` and the DeepSpeed bucket keys: how `--gpus`
/// GPUs share the model. The keys are spelled as in a DeepSpeed `zero_optimization` config and
/// accept the same values (`5e7`, `50000000`, or `auto` where HF's Trainer fills one in).
enum EngineOptions {
  struct BucketKey: Sendable {
    let engineOption: EngineOption
    let option: String
    let help: String
    let allowsAuto: Bool
    let read: @Sendable (DeepSpeedBuckets) -> Int64?
    let write: @Sendable (inout DeepSpeedBuckets, Int64?) -> Void
  }

  static let bucketKeys: [BucketKey] = [
    BucketKey(engineOption: .reduceBucketSize, option: "--reduce-bucket-size", help: "DeepSpeed reduce_bucket_size: gradient elements reduced at a time.",
      allowsAuto: true, read: { $0.reduceBucketSize }, write: { $0.reduceBucketSize = $1 }),
    BucketKey(engineOption: .prefetchBucketSize, option: "--stage3-prefetch-bucket-size", help: "DeepSpeed ZeRO-3 parameter elements fetched ahead of use.",
      allowsAuto: true, read: { $0.prefetchBucketSize }, write: { $0.prefetchBucketSize = $1 }),
    BucketKey(engineOption: .maxLiveParameters, option: "--stage3-max-live-parameters", help: "DeepSpeed ZeRO-3 parameter elements gathered at once, at most.",
      allowsAuto: false, read: { $0.maxLiveParameters }, write: { $0.maxLiveParameters = $1 ?? $0.maxLiveParameters }),
    BucketKey(engineOption: .persistenceThreshold, option: "--stage3-param-persistence-threshold", help: "DeepSpeed ZeRO-3: tensors this small are not partitioned.",
      allowsAuto: true, read: { $0.persistenceThreshold }, write: { $0.persistenceThreshold = $1 }),
  ]

  static let specs: [OptionSpec] = [
    .value("--engine", "name", "How --gpus GPUs share the model: FSDP FULL_SHARD or HYBRID_SHARD, or DeepSpeed ZeRO stage 1, 2, 3.",
      values: ParallelEngine.allCases.map(\.rawValue), default: "fsdp"),
    .value("--nodes", "n", "Machines the GPUs are in (a divisor of --gpus); fsdp-hybrid shards within one.", default: "1"),
    .value("--offload", "what", "Move to host memory: optimizer (ZeRO offload_optimizer), params (ZeRO-3 offload_param, "
      + "FSDP CPUOffload), or both joined by a comma.", values: ["none", "optimizer", "params", "optimizer,params"], default: "none"),
    .value("--deepspeed", "file", "A DeepSpeed config JSON: its ZeRO stage, offload devices, bucket keys, bf16/fp16 and "
      + "micro-batch (the options above and below override it)."),
  ] + bucketKeys.map {
    .value($0.option, "elements", $0.help + ($0.allowsAuto ? " 'auto': HF's value from the hidden size." : ""),
      default: $0.read(DeepSpeedBuckets()).map { String($0) } ?? "auto")
  }

  /// Sets the engine fields of `setup` from the options; the estimator checks the combination.
  static func apply(_ arguments: ParsedArguments, to setup: inout TrainingSetup) throws(UsageError) {
    if let path = arguments.value("--deepspeed") {
      // A regular file of at most 1 MiB: a device or FIFO (/dev/zero, a pipe) would never end.
      let attributes = try? FileManager.default.attributesOfItem(atPath: path)
      guard attributes?[.type] as? FileAttributeType == .typeRegular,
        let size = (attributes?[.size] as? NSNumber)?.int64Value, size <= 1 << 20,
        let data = try? Data(contentsOf: URL(fileURLWithPath: path))
      else {
        throw .invalidValue(path, for: "--deepspeed", "cannot read it as a DeepSpeed config (a regular file of at most 1 MiB)")
      }
      do {
        try DeepSpeedConfigFile.apply(data, to: &setup)
      } catch {
        throw UsageError("In the DeepSpeed config '\(path)': \(error.description)")
      }
    }
    if let engine = try arguments.choice("--engine", as: ParallelEngine.self) { setup.engine = engine }
    if let nodes = try arguments.integer("--nodes", in: 1...TrainingSetup.maximumGPUCount) { setup.nodeCount = nodes }
    if let text = arguments.value("--offload") { setup.offload = try offload(text) }
    for key in bucketKeys {
      guard let text = arguments.value(key.option) else { continue }
      if key.allowsAuto, text.lowercased() == "auto" {
        key.write(&setup.deepSpeed, nil)
        continue
      }
      guard let value = try arguments.number(key.option, in: 0...1e15), value == value.rounded() else {
        throw .invalidValue(text, for: key.option, "expected a whole number of elements" + (key.allowsAuto ? " or auto" : ""))
      }
      key.write(&setup.deepSpeed, Int64(value))
    }
  }

  /// The flag of an engine option, for the estimator's errors.
  static func flag(for option: EngineOption) -> String {
    switch option {
    case .nodes: return "--nodes"
    case .offload: return "--offload"
    default: return bucketKeys.first { $0.engineOption == option }?.option ?? option.rawValue
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

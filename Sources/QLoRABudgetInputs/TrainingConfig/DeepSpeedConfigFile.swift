import FileSafety
import Foundation
import QLoRABudget
import Safetensors

/// Reads a DeepSpeed config (the JSON passed to `deepspeed --deepspeed_config` or HF
/// `TrainingArguments(deepspeed=...)`) onto a setup: the ZeRO stage becomes the engine, the
/// offload devices the offload options, the bucket keys (numbers or HF's `"auto"`) the
/// ``DeepSpeedBuckets``, `bf16`/`fp16` the compute dtype, `train_micro_batch_size_per_gpu` the
/// batch. Keys it does not read change no byte the estimator models. Key names:
/// DeepSpeed `runtime/zero/config.py` (docs/recipes.md section 9e).
public enum DeepSpeedConfigFile {
  /// Reads the config's bytes (``InputFile/deepSpeedConfig``) onto `setup`.
  public static func apply(_ data: Data, to setup: inout TrainingSetup) throws(DeepSpeedConfigError) {
    let root: [String: JSONValue]
    do {
      root = try JSONValue(parsing: data).objectValue ?? [:]
    } catch {
      throw DeepSpeedConfigError(field: "the file", value: error.description, allowed: "a DeepSpeed config JSON object")
    }
    let zero = root["zero_optimization"]?.objectValue ?? [:]
    switch try number(zero["stage"], "zero_optimization.stage", auto: false) {
    case 1: setup.engine = .zero1
    case 2: setup.engine = .zero2
    case 3: setup.engine = .zero3
    case let stage:
      throw DeepSpeedConfigError(
        field: "zero_optimization.stage", value: stage.map { String($0) } ?? "missing", allowed: "1, 2 or 3")
    }
    setup.offload = []
    if try device(zero["offload_optimizer"], "zero_optimization.offload_optimizer.device") {
      setup.offload.insert(.optimizer)
    }
    if try device(zero["offload_param"], "zero_optimization.offload_param.device") { setup.offload.insert(.parameters) }
    var buckets = DeepSpeedBuckets()
    if zero["reduce_bucket_size"] != nil {
      buckets.reduceBucketSize = try number(
        zero["reduce_bucket_size"], "zero_optimization.reduce_bucket_size", auto: true)
    }
    if zero["stage3_prefetch_bucket_size"] != nil {
      buckets.prefetchBucketSize = try number(
        zero["stage3_prefetch_bucket_size"], "zero_optimization.stage3_prefetch_bucket_size", auto: true)
    }
    if zero["stage3_param_persistence_threshold"] != nil {
      buckets.persistenceThreshold = try number(
        zero["stage3_param_persistence_threshold"], "zero_optimization.stage3_param_persistence_threshold", auto: true)
    }
    if let live = try number(
      zero["stage3_max_live_parameters"], "zero_optimization.stage3_max_live_parameters", auto: false)
    {
      buckets.maxLiveParameters = live
    }
    setup.deepSpeed = buckets
    if enabled(root["bf16"]) { setup.computeDtype = .bf16 }
    if enabled(root["fp16"]) { setup.computeDtype = .fp16 }
    if let batch = try number(root["train_micro_batch_size_per_gpu"], "train_micro_batch_size_per_gpu", auto: true) {
      guard (1...TrainingSetup.maximumBatchSize).contains(batch) else {
        throw DeepSpeedConfigError(
          field: "train_micro_batch_size_per_gpu", value: String(batch),
          allowed: "a whole number from 1 to \(TrainingSetup.maximumBatchSize) or \"auto\"")
      }
      setup.batchSize = batch
    }
  }

  /// A whole number of at least 0; nil when absent, or `"auto"` where HF fills it in.
  private static func number(_ value: JSONValue?, _ key: String, auto: Bool) throws(DeepSpeedConfigError) -> Int64? {
    switch value {
    case nil, .null?: return nil
    case .string(let text)? where auto && text.lowercased() == "auto": return nil
    case .number(let number)? where number.isFinite && number >= 0 && number <= 1e15 && number == number.rounded():
      return Int64(number)
    case let other?:
      throw DeepSpeedConfigError(
        field: key, value: render(other), allowed: "a whole number of at least 0" + (auto ? " or \"auto\"" : ""))
    }
  }

  /// Whether an offload block sends its state to the CPU (`device: "cpu"`); `"none"` or absent: no.
  private static func device(_ block: JSONValue?, _ key: String) throws(DeepSpeedConfigError) -> Bool {
    guard let block, block != .null else { return false }
    guard let members = block.objectValue, case .string(let device)? = members["device"] else {
      throw DeepSpeedConfigError(field: key, value: render(block), allowed: "an object with device \"cpu\" or \"none\"")
    }
    switch device.lowercased() {
    case "cpu": return true
    case "none": return false
    default:
      throw DeepSpeedConfigError(
        field: key, value: device, allowed: "\"cpu\" or \"none\" (NVMe offload is not modelled)")
    }
  }

  /// `{"enabled": true}` (`"auto"` leaves the dtype to the other options).
  private static func enabled(_ block: JSONValue?) -> Bool {
    if case .bool(true)? = block?.objectValue?["enabled"] { return true }
    return false
  }

  private static func render(_ value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case .bool(let flag): return String(flag)
    case .number(let number): return String(number)
    case .string(let text): return "\"\(text)\""
    case .array: return "an array"
    case .object: return "an object"
    }
  }
}

/// A DeepSpeed config key whose value the estimator cannot use: the key, the value, what is accepted.
public struct DeepSpeedConfigError: Error, Hashable, Sendable, CustomStringConvertible {
  public let field: String
  public let value: String
  public let allowed: String

  public var description: String { "\(field) is \(value); expected \(allowed)" }
}

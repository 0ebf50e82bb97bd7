import Foundation
import QLoRABudget

/// `--deepspeed FILE`: a DeepSpeed config JSON read onto the setup (its ZeRO stage, offload
/// devices, bucket keys, bf16/fp16 and micro-batch); the setting flags given beside it override it.
enum DeepSpeedOption {
  static let spec = OptionSpec.value(
    "--deepspeed", "file", "A DeepSpeed config JSON: its ZeRO stage, offload devices, bucket keys, bf16/fp16 and "
      + "micro-batch (the other options override it).")

  /// The setup the config describes over `base`, or nil without `--deepspeed`.
  static func setup(_ arguments: ParsedArguments, base: TrainingSetup = TrainingSetup()) throws(UsageError) -> TrainingSetup? {
    guard let path = arguments.value(spec) else { return nil }
    // A regular file of at most 1 MiB: a device or FIFO (/dev/zero, a pipe) would never end.
    let attributes = try? FileManager.default.attributesOfItem(atPath: path)
    guard attributes?[.type] as? FileAttributeType == .typeRegular,
      let size = (attributes?[.size] as? NSNumber)?.int64Value, size <= 1 << 20,
      let data = try? Data(contentsOf: URL(fileURLWithPath: path))
    else {
      throw .invalidValue(path, for: "--deepspeed", "cannot read it as a DeepSpeed config (a regular file of at most 1 MiB)")
    }
    var setup = base
    do {
      try DeepSpeedConfigFile.apply(data, to: &setup)
    } catch {
      throw UsageError("In the DeepSpeed config '\(path)': \(error.description)")
    }
    return setup
  }
}

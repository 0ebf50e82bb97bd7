import Foundation
import QLoRABudget
import QLoRABudgetInputs

/// `--deepspeed FILE`: a DeepSpeed config JSON read onto the setup (its ZeRO stage, offload
/// devices, bucket keys, bf16/fp16 and micro-batch); the setting flags given beside it override it.
enum DeepSpeedOption {
  static let spec = OptionSpec.value(
    "--deepspeed", "file",
    "A DeepSpeed config JSON: its ZeRO stage, offload devices, bucket keys, bf16/fp16 and "
      + "micro-batch (the other options override it).")

  /// The setup the config describes over `base`, or nil without `--deepspeed`.
  static func setup(_ arguments: ParsedArguments, base: TrainingSetup = TrainingSetup()) throws(UsageError)
    -> TrainingSetup?
  {
    guard let path = arguments.value(spec) else { return nil }
    let data: Data
    do {
      data = try InputFile.deepSpeedConfig.contents(of: path)
    } catch {
      throw .invalidValue(path, for: spec.name, "a readable DeepSpeed config of at most 1 MiB (\(error.reason))")
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

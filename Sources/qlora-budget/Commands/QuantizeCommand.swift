import Foundation
import NF4Quantization
import QLoRABudget

/// `qlora-budget quantize IN OUT`: a checkpoint in bitsandbytes' 4-bit layout.
enum QuantizeCommand: Command {
  static let name = "quantize"
  static let summary = "Quantize a safetensors checkpoint into bitsandbytes' 4-bit layout."
  static let arguments = "<in.safetensors> <out.safetensors> [--quant nf4|fp4] [--blocksize <n>] [--double-quant true|false]"
  static let options: [OptionSpec] = QuantizationOptions.specs + [
    .value("--threads", "n", "Threads per tensor.", default: "all cores")
  ]

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    try arguments.expectPositionals(atMost: 2)
    let input = URL(fileURLWithPath: try arguments.positional(0, named: "in.safetensors"))
    let output = URL(fileURLWithPath: try arguments.positional(1, named: "out.safetensors"))
    guard input.standardizedFileURL != output.standardizedFileURL else {
      throw UsageError("The output '\(output.path)' must differ from the input.", command: name)
    }
    let settings = try QuantizationOptions.settings(arguments)
    let threads = try arguments.integer("--threads", in: 1...1024).map(Int.init) ?? ProcessInfo.processInfo.activeProcessorCount
    let report = try CheckpointQuantizer(settings: settings, threads: threads).quantize(input: input, output: output)
    let inputBytes = ByteCount(try FileManager.default.attributesOfItem(atPath: input.path)[.size] as? Int64 ?? 0)
    let outputBytes = ByteCount(try FileManager.default.attributesOfItem(atPath: output.path)[.size] as? Int64 ?? 0)
    context.print(
      "Quantized \(report.quantized.count) weights to \(settings.type.rawValue) (blocks of \(settings.blockSize), "
        + "double quantization \(settings.doubleQuantization ? "on" : "off")); copied \(report.copied.count) tensors unchanged.")
    context.print("Wrote \(output.path): \(NumberText.grouped(outputBytes.bytes)) bytes (\(outputBytes.formatted())), "
      + "from \(NumberText.grouped(inputBytes.bytes)) bytes (\(inputBytes.formatted())).")
    return .success
  }
}

/// `--quant`, `--blocksize`, `--double-quant`: the 4-bit settings, as bitsandbytes names them.
enum QuantizationOptions {
  static let specs: [OptionSpec] = [
    .value("--quant", "type", "The 4-bit type.", values: FourBitType.allCases.map(\.rawValue), default: "nf4"),
    .value("--blocksize", "n", "Elements per absmax block.", values: QuantizationSettings.validBlockSizes.map(String.init), default: "64"),
    .value("--double-quant", "bool", "Quantize the absmax values to 8 bits (QLoRA's double quantization).", values: ["true", "false"], default: "true"),
  ]

  static func settings(_ arguments: ParsedArguments) throws -> QuantizationSettings {
    let type = try arguments.choice("--quant", as: FourBitType.self) ?? .nf4
    let blockSize = try arguments.integer("--blocksize", in: 1...65536).map(Int.init) ?? 64
    let doubleQuantization = try arguments.boolean("--double-quant") ?? true
    do {
      return try QuantizationSettings(type: type, blockSize: blockSize, doubleQuantization: doubleQuantization)
    } catch {
      throw UsageError.invalidValue(String(blockSize), for: "--blocksize", "use 32, 64, 128, 256, 512, 1024, 2048 or 4096")
    }
  }
}

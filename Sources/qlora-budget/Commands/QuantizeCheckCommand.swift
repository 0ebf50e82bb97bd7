import Foundation
import NF4Quantization
import QLoRABudget
import Safetensors

/// `qlora-budget quantize-check (FILE | --shape RxC)`: what NF4, FP4 and int4 cost in error.
enum QuantizeCheckCommand: Command {
  static let name = "quantize-check"
  static let summary = "Measure the error of NF4, FP4 and int4 on a checkpoint's weights or on synthetic ones."
  static let arguments = "(<file.safetensors> | --shape <rows>x<cols>) [--blocksize <n>] [--seed <n>] [--json]"
  static let options: [OptionSpec] = [
    .value("--shape", "rows>x<cols", "Synthetic N(0, 0.02^2) weights of this shape instead of a file."),
    .value("--seed", "n", "Seed of the synthetic weights.", default: "0"),
    .value("--blocksize", "n", "Elements per absmax block.", values: QuantizationSettings.validBlockSizes.map(String.init), default: "64"),
    .value("--double-quant", "bool", "Double-quantize the absmax values.", values: ["true", "false"], default: "true"),
    .flag("--json", "Print a JSON array."),
  ]

  /// The weights checked: a name and the float32 values.
  struct Weights {
    let name: String
    let values: [Float]
  }

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    try arguments.expectPositionals(atMost: 1)
    let settings = try QuantizationOptions.settings(arguments)
    var rows: [(tensor: String, format: String, statistics: QuantizationErrorStatistics)] = []
    for weights in try weightsToCheck(arguments) {
      let comparison = try QuantizationErrorStatistics.compareFormats(
        weights.values, blockSize: settings.blockSize, doubleQuantization: settings.doubleQuantization)
      rows += comparison.map { (weights.name, $0.format, $0.statistics) }
    }
    if arguments.has("--json") {
      context.print(JSONOutput.array(rows.map { row in
        .object([
          ("tensor", .string(row.tensor)), ("format", .string(row.format)),
          ("mse", .number(row.statistics.meanSquaredError)), ("max_abs_error", .number(row.statistics.maxAbsoluteError)),
          ("snr_db", .number(row.statistics.signalToNoiseDecibels)),
        ])
      }).rendered())
    } else {
      context.print(HelpText.pad("tensor", 32) + HelpText.pad("format", 8) + EstimateText.leftPad("MSE", 14)
        + EstimateText.leftPad("max |error|", 14) + EstimateText.leftPad("SNR dB", 10))
      for row in rows {
        context.print(HelpText.pad(Self.abbreviated(row.tensor, 31), 32) + HelpText.pad(row.format, 8)
          + EstimateText.leftPad(scientific(row.statistics.meanSquaredError), 14)
          + EstimateText.leftPad(scientific(row.statistics.maxAbsoluteError), 14)
          + EstimateText.leftPad(ByteCount.fixed(row.statistics.signalToNoiseDecibels, decimals: 2), 10))
      }
    }
    return .success
  }

  /// Synthetic weights for `--shape`, else every weight `quantize` would quantize in the file.
  static func weightsToCheck(_ arguments: ParsedArguments) throws -> [Weights] {
    if let shapeText = arguments.value("--shape") {
      guard arguments.positionals.isEmpty else {
        throw UsageError("Give a file or '--shape', not both.", command: name)
      }
      let dimensions = shapeText.lowercased().split(separator: "x").compactMap { Int($0) }
      guard dimensions.count == 2, dimensions.allSatisfy({ $0 > 0 }),
        case (let count, false) = dimensions[0].multipliedReportingOverflow(by: dimensions[1]), count <= 1 << 28
      else {
        throw UsageError.invalidValue(shapeText, for: "--shape", "expected <rows>x<cols>, at most 268435456 elements")
      }
      let seed = try arguments.integer("--seed", in: 0...Int64.max).map { UInt64($0) } ?? 0
      return [Weights(name: "synthetic \(dimensions[0])x\(dimensions[1]) seed \(seed)",
                      values: SyntheticWeights.normal(count: count, standardDeviation: 0.02, seed: seed))]
    }
    let path = try arguments.positional(0, named: "file.safetensors")
    let file = try SafetensorsFile(url: URL(fileURLWithPath: path))
    return try file.header.tensors.filter(CheckpointQuantizer.quantizes).map { info in
      Weights(name: info.name, values: try CheckpointQuantizer.floatValues(file.data(for: info), dtype: info.dtype))
    }
  }

  /// Long tensor names keep their informative end: `…layers.31.mlp.down_proj.weight`.
  private static func abbreviated(_ name: String, _ width: Int) -> String {
    name.count <= width ? name : "…" + name.suffix(width - 1)
  }

  private static func scientific(_ value: Double) -> String { String(format: "%.3e", value) }
}

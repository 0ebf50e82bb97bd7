import Foundation
import NF4Quantization
import QLoRABudget
import QLoRABudgetInputs
import Safetensors

/// `qlora-budget quantize-check (FILE | --shape RxC)`: what NF4, FP4 and int4 cost in error, and,
/// for a model folder with its config.json, the NF4 buffers the engine made against the bytes the
/// estimator predicts for that model.
enum QuantizeCheckCommand: Command {
  static let name = "quantize-check"
  static let summary =
    "Measure the error of NF4, FP4 and int4 on a checkpoint's weights (file or model folder) or on synthetic ones."
  static let arguments = "(<file.safetensors|folder> | --shape <rows>x<cols>) [options]"
  static let shape = OptionSpec.value(
    "--shape", "rows>x<cols", "Synthetic N(0, 0.02^2) weights of this shape instead of a file.")
  static let seed = OptionSpec.value("--seed", "n", "Seed of the synthetic weights.", default: "0")
  static let json = OptionSpec.flag(
    "--json", "Print a JSON object: the rows, and the measured and estimated 4-bit bytes.")
  static let options: [OptionSpec] = [
    shape, seed, QuantizationOptions.blockSize,
    .value("--double-quant", "bool", "Double-quantize the absmax values.", values: ["true", "false"], default: "true"),
    json,
  ]

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    try arguments.expectPositionals(atMost: 1)
    let settings = try QuantizationOptions.settings(arguments)
    let json = arguments.has(Self.json)
    var rows: [(tensor: String, format: String, statistics: QuantizationErrorStatistics)] = []
    var byFormat: [String: [QuantizationErrorStatistics]] = [:]
    var count = 0
    var measured: Int64 = 0
    func record(_ name: String, _ comparison: QuantizationErrorStatistics.FormatComparison) {
      measured += comparison.nf4Buffers.total
      for (format, statistics) in comparison.rows {
        byFormat[format, default: []].append(statistics)
        if json { rows.append((name, format, statistics)) } else { context.print(line(name, format, statistics)) }
      }
    }
    try forEachWeight(arguments, settings) { name, comparison in
      if count == 0 && !json {
        context.print(
          HelpText.pad("tensor", 32) + HelpText.pad("format", 8) + EstimateText.leftPad("MSE", 14)
            + EstimateText.leftPad("max |error|", 14) + EstimateText.leftPad("SNR dB", 10))
      }
      record(name, comparison)
      count += 1
    }
    if count > 1 {
      for format in ["nf4", "fp4", "int4"] {
        let total = QuantizationErrorStatistics.combined(byFormat[format] ?? [])
        if json {
          rows.append(("(all weights)", format, total))
        } else {
          context.print(line("(all weights)", format, total))
        }
      }
    }
    let prediction = try predictedBytes(arguments, settings)
    let predicted = try? prediction?.get()
    if json {
      context.print(
        JSONOutput.object([
          (
            "rows",
            .array(
              rows.map { row in
                .object([
                  ("tensor", .string(row.tensor)), ("format", .string(row.format)),
                  ("mse", .number(row.statistics.meanSquaredError)),
                  ("max_abs_error", .number(row.statistics.maxAbsoluteError)),
                  ("snr_db", .number(row.statistics.signalToNoiseDecibels)),
                ])
              })
          ),
          (
            "nf4_bytes",
            .object([
              ("measured", .integer(measured)), ("estimated", predicted.map { .integer($0.bytes.bytes) } ?? .null),
              ("model", predicted.map { .string($0.model) } ?? .null),
              (
                "estimate_error",
                prediction.flatMap { result in
                  if case .failure(let error) = result { return .string(error.description) } else { return nil }
                } ?? .null
              ),
            ])
          ),
        ]).rendered())
    } else if count > 0 {
      context.print(
        "NF4 buffers (packed + quant state): \(NumberText.grouped(measured)) B made by the engine"
          + (predicted.map {
            ", \(NumberText.grouped($0.bytes.bytes)) B estimated for \($0.model)"
              + ($0.bytes.bytes == measured
                ? " (equal)" : " (differ by \(NumberText.grouped($0.bytes.bytes - measured)) B)")
          } ?? "")
          + (prediction.flatMap { result in
            if case .failure(let error) = result { return "; no estimate: \(error.description)" } else { return nil }
          } ?? ""))
    }
    if count == 0 && !json {
      context.print("No weights to check: no 2-D float32/float16/bfloat16 '*.weight' that quantize would quantize.")
    }
    return .success
  }

  /// The estimator's NF4 bytes for the model whose config.json is in the folder (or beside the
  /// file) given; nil for synthetic weights or without a config.json; the reason when the
  /// config cannot be read as a model.
  static func predictedBytes(
    _ arguments: ParsedArguments, _ settings: QuantizationSettings
  ) throws -> Result<(bytes: ByteCount, model: String), PresetError>? {
    guard arguments.value(shape) == nil, let path = arguments.positionals.first, !path.isEmpty else { return nil }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
    let folder =
      isDirectory.boolValue ? URL(fileURLWithPath: path) : URL(fileURLWithPath: path).deletingLastPathComponent()
    guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json").path) else { return nil }
    let model: ModelArchitecture
    do {
      model = try PresetCatalog.bundled.model(from: folder.path)
    } catch {
      return .failure(error)
    }
    var setup = TrainingSetup()
    setup.blockSize = Int64(settings.blockSize)
    setup.usesDoubleQuantization = settings.doubleQuantization
    return .success((MemoryEstimator.checkpointFourBitBytes(model: model, setup: setup), model.name))
  }

  private static func line(_ tensor: String, _ format: String, _ statistics: QuantizationErrorStatistics) -> String {
    HelpText.pad(Self.abbreviated(CommandLineTool.oneLine(tensor), 31), 32) + HelpText.pad(format, 8)
      + EstimateText.leftPad(scientific(statistics.meanSquaredError), 14)
      + EstimateText.leftPad(scientific(statistics.maxAbsoluteError), 14)
      + EstimateText.leftPad(ByteCount.fixed(statistics.signalToNoiseDecibels, decimals: 2), 10)
  }

  /// The formats compared on synthetic weights for `--shape`, else on every weight `quantize`
  /// would quantize in the file or model folder, one at a time, each read in chunks
  /// (``QuantizationErrorStatistics/compareFormats(file:tensor:blockSize:doubleQuantization:threads:)``):
  /// memory stays at a few chunks whatever the weight's size.
  static func forEachWeight(
    _ arguments: ParsedArguments, _ settings: QuantizationSettings,
    _ body: (String, QuantizationErrorStatistics.FormatComparison) throws -> Void
  ) throws {
    if let shapeText = arguments.value(shape) {
      guard arguments.positionals.isEmpty else {
        throw UsageError("Give a file or '--shape', not both.", command: name)
      }
      let dimensions = shapeText.lowercased().split(separator: "x").compactMap { Int($0) }
      guard dimensions.count == 2, dimensions.allSatisfy({ $0 > 0 }),
        case (let count, false) = dimensions[0].multipliedReportingOverflow(by: dimensions[1]), count <= 1 << 28
      else {
        throw UsageError.invalidValue(shapeText, for: shape.name, "expected <rows>x<cols>, at most 268435456 elements")
      }
      let seed = try arguments.integer(seed, in: 0...Int64.max).map { UInt64($0) } ?? 0
      let values = try SyntheticWeights.normal(count: count, standardDeviation: 0.02, seed: seed)
      try body(
        "synthetic \(dimensions[0])x\(dimensions[1]) seed \(seed)",
        try QuantizationErrorStatistics.compareFormats(
          values, blockSize: settings.blockSize, doubleQuantization: settings.doubleQuantization))
      return
    }
    let path = try arguments.positional(0, named: "file.safetensors|folder")
    guard !path.isEmpty else { throw UsageError.invalidValue(path, for: "file.safetensors|folder", "give a path") }
    let checkpoint = try CheckpointFolder(path: URL(fileURLWithPath: path))
    let threads = ProcessInfo.processInfo.activeProcessorCount
    for (file, info) in checkpoint.tensors where CheckpointQuantizer.quantizes(info) {
      try body(
        info.name,
        try QuantizationErrorStatistics.compareFormats(
          file: file, tensor: info, blockSize: settings.blockSize, doubleQuantization: settings.doubleQuantization,
          threads: threads))
    }
  }

  /// Long tensor names keep their informative end: `…layers.31.mlp.down_proj.weight`.
  private static func abbreviated(_ name: String, _ width: Int) -> String {
    name.count <= width ? name : "…" + name.suffix(width - 1)
  }

  private static func scientific(_ value: Double) -> String { String(format: "%.3e", value) }
}

import FileSafety
import Foundation
import NF4Quantization
import QLoRABudget
import QLoRABudgetInputs
import Safetensors

/// `qlora-budget quantize IN OUT`: a checkpoint (file or model folder) in bitsandbytes' 4-bit layout.
enum QuantizeCommand: Command {
  static let name = "quantize"
  static let summary = "Quantize a safetensors checkpoint or model folder into bitsandbytes' 4-bit layout."
  static let arguments = "<in.safetensors|folder> <out.safetensors|folder> [options]"
  static let threads = OptionSpec.value("--threads", "n", "Threads per tensor.", default: "all cores")
  static let force = OptionSpec.flag(
    "--force", "Replace a previous output of quantize (never the input, nor a file or folder quantize did not write).")
  static let quiet = OptionSpec.flag("--quiet", "No progress on stderr (shown only when stderr is a terminal).")
  static let options: [OptionSpec] = QuantizationOptions.specs + [threads, force, quiet]

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    try arguments.expectPositionals(atMost: 2)
    let inputPath = try arguments.positional(0, named: "in.safetensors|folder")
    let outputPath = try arguments.positional(1, named: "out.safetensors|folder")
    for (path, label) in [(inputPath, "in.safetensors|folder"), (outputPath, "out.safetensors|folder")]
    where path.isEmpty {
      throw UsageError.invalidValue(path, for: label, "give a path")
    }
    let input = URL(fileURLWithPath: inputPath)
    let output = URL(fileURLWithPath: outputPath)
    guard input.standardizedFileURL != output.standardizedFileURL else {
      throw UsageError("The output '\(output.path)' must differ from the input.", command: name)
    }
    let settings = try QuantizationOptions.settings(arguments)
    // The output being the input is refused by quantize itself, with that reason.
    if arguments.has(force), FileIdentity(path: output.path) != FileIdentity(path: input.path) {
      try PreviousQuantizedOutput.checkReplaceable(output.path)
    }
    let threads =
      try arguments.integer(threads, in: 1...1024).map(Int.init) ?? ProcessInfo.processInfo.activeProcessorCount
    var quantizer = CheckpointQuantizer(settings: settings, threads: threads)
    let showsProgress = !arguments.has(quiet) && isatty(STDERR_FILENO) == 1
    if showsProgress { quantizer.progress = ProgressLine.reporter(context.standardError) }
    let report = try quantizer.quantize(input: input, output: output, replacingExisting: arguments.has(force))
    if showsProgress { context.standardError("\n") }
    let inputBytes = ByteCount(report.inputBytes)
    let outputBytes = ByteCount(report.outputBytes)
    context.print(
      "Quantized \(report.quantized.count) weights to \(settings.type.rawValue) (blocks of \(settings.blockSize), "
        + "double quantization \(settings.doubleQuantization ? "on" : "off")); copied \(report.copied.count) tensors unchanged."
    )
    context.print(
      "Wrote \(CommandLineTool.oneLine(output.path)): \(NumberText.grouped(outputBytes.bytes)) bytes of tensors (\(outputBytes.formatted())) "
        + "in \(report.files.count) file(s), from \(NumberText.grouped(inputBytes.bytes)) bytes (\(inputBytes.formatted()))."
    )
    if !report.keptModules.isEmpty {
      context.print(
        "Kept in 16-bit (llm_int8_skip_modules): \(CommandLineTool.oneLine(report.keptModules.prefix(4).joined(separator: ", ")))"
          + (report.keptModules.count > 4 ? " and \(report.keptModules.count - 4) more" : "") + ".")
    }
    for skipped in report.skippedFiles { context.warn("not copied: \(CommandLineTool.oneLine(skipped))") }
    return .success
  }
}

/// The progress line on stderr: tensors, bytes, rate and time left, redrawn in place.
enum ProgressLine {
  /// A reporter that redraws at most every 0.2 s (and at the last tensor).
  static func reporter(_ write: @escaping (String) -> Void) -> @Sendable (QuantizationProgress) -> Void {
    let last = LastDraw()
    // Called from the quantizing thread only, one call at a time.
    nonisolated(unsafe) let write = write
    return { progress in
      guard last.shouldDraw(at: progress.elapsedSeconds) || progress.tensorsDone == progress.tensorCount else { return }
      write("\r" + text(progress) + "\u{1B}[K")
    }
  }

  static func text(_ progress: QuantizationProgress) -> String {
    let done = ByteCount(progress.bytesDone).formatted(.decimal)
    let total = ByteCount(progress.totalBytes).formatted(.decimal)
    let rate = ByteCount.fixed(progress.bytesPerSecond / 1e9, decimals: 2)
    let left = progress.remainingSeconds.map { "ETA \(Int($0.rounded())) s" } ?? ""
    return "\(progress.tensorsDone)/\(progress.tensorCount) tensors, \(done) of \(total), \(rate) GB/s, \(left)"
  }

  /// When the line was last drawn (the reporter is called from one thread at a time).
  private final class LastDraw: @unchecked Sendable {
    var seconds = -1.0
    func shouldDraw(at now: Double) -> Bool {
      guard now - seconds >= 0.2 else { return false }
      seconds = now
      return true
    }
  }
}

/// `--quant`, `--blocksize`, `--double-quant`: the 4-bit settings, as bitsandbytes names them.
enum QuantizationOptions {
  static let quant = OptionSpec.value(
    "--quant", "type", "The 4-bit type.", values: FourBitType.allCases.map(\.rawValue), default: "nf4")
  static let blockSize = OptionSpec.value(
    "--blocksize", "n", "Elements per absmax block.", values: Setting.blockSize.domain.listedValues, default: "64")
  static let doubleQuantization = OptionSpec.value(
    "--double-quant", "bool", "Quantize the absmax values to 8 bits (QLoRA's double quantization).",
    values: ["true", "false"],
    default: "true")
  static let specs: [OptionSpec] = [quant, blockSize, doubleQuantization]

  static func settings(_ arguments: ParsedArguments) throws -> QuantizationSettings {
    let type = try arguments.choice(quant, as: FourBitType.self) ?? .nf4
    // The estimator's block-size rule (TrainingSetup.blockSizes), worded as `fit --blocksize` words it.
    var blockSize = TrainingSetup().blockSize
    if let text = arguments.value(Self.blockSize) {
      do {
        blockSize = try Setting.blockSize.parse(text).integerValue ?? blockSize
      } catch {
        throw UsageError.invalidValue(text, for: Self.blockSize.name, error.expected)
      }
    }
    let doubleQuantization = try arguments.boolean(doubleQuantization) ?? true
    do {
      return try QuantizationSettings(type: type, blockSize: Int(blockSize), doubleQuantization: doubleQuantization)
    } catch {
      throw UsageError.invalidValue(String(blockSize), for: Self.blockSize.name, Setting.blockSize.domain.description)
    }
  }
}

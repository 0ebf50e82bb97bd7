import Foundation
import QLoRABudget
import QLoRABudgetInputs
import QLoRABudgetValidation

/// `qlora-budget validate [--calibration DIR] [--output FILE]`: regenerates docs/validation.md
/// and the verdict margin and recipe validation gaps derived from it
/// (Sources/QLoRABudget/Verdict/MeasuredMargin.swift).
enum ValidateCommand: Command {
  static let name = "validate"
  static let summary = "Compare estimates with the calibration measurements; write docs/validation.md."
  static let arguments = "[options]"
  static let calibration = OptionSpec.value(
    "--calibration", "dir", "The calibration folder.", default: "Tests/Calibration/ in the package root")
  static let output = OptionSpec.value(
    "--output", "file", "Where to write the report ('-' for stdout).", default: "docs/validation.md")
  static let marginOutput = OptionSpec.value(
    "--margin-output", "file",
    "Where to write the Swift source of the verdict margin and the recipes' validation gaps ('-' for stdout).",
    default: "Sources/QLoRABudget/Verdict/MeasuredMargin.swift")
  static let options: [OptionSpec] = [calibration, output, marginOutput, PlanningOptions.force]

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    try arguments.expectPositionals(atMost: 0)
    let root = packageRoot()
    let directory =
      arguments.value(calibration).map { URL(fileURLWithPath: $0) }
      ?? root.appendingPathComponent("Tests/Calibration")
    guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("cpu-steps/cpu-steps.json").path)
    else {
      throw UsageError(
        "No calibration data at \(directory.path): pass '--calibration <dir>'.", command: arguments.command)
    }
    let report = try CalibrationValidation.run(directory: directory)
    let text = report.markdown()
    let output = arguments.value(Self.output) ?? root.appendingPathComponent("docs/validation.md").path
    if output == "-" {
      context.standardOutput(text)
    } else {
      try PlanningOptions.write(text, to: output, arguments)
      context.print("wrote \(output)")
    }
    let margin = report.verdictMargin
    let engineMargin = report.engineVerdictMargin
    let source = ValidationReport.marginSource(margin, engine: engineMargin, gaps: report.recipeValidationGaps)
    let marginPath =
      arguments.value(marginOutput)
      ?? root.appendingPathComponent("Sources/QLoRABudget/Verdict/MeasuredMargin.swift").path
    if marginPath == "-" {
      context.standardOutput(source)
    } else {
      try PlanningOptions.write(source, to: marginPath, arguments)
      context.print("wrote \(marginPath)")
    }
    for (label, derived, built) in [
      ("verdict margin", margin, VerdictMargin.measured),
      ("verdict margin under FSDP or DeepSpeed", engineMargin, VerdictMargin.measuredUnderEngine),
    ] {
      context.print(
        "\(label): \(EstimateText.percent(derived.relative)), " + derived.statistic
          + (derived == built ? "" : "; rebuild: the built-in margin was \(EstimateText.percent(built.relative))"))
    }
    let allocated = report.absoluteErrors(dataSet: CalibrationValidation.gpuDataSet, figure: "peak_allocated")
    context.print(
      String(
        format: "peak allocated: median %.2f%%, max %.2f%% over %d GPU cases; %d wrong fits",
        ValidationReport.median(allocated), allocated.max() ?? 0, allocated.count, report.wrongFits.count))
    for dataSet in [CalibrationValidation.cpuDataSet, CalibrationValidation.cpuOutOfSampleDataSet] {
      let all = CalibrationValidation.cpuFigures.flatMap { report.absoluteErrors(dataSet: dataSet, figure: $0) }
      guard !all.isEmpty else { continue }
      context.print(
        String(
          format: "%@: median %.2f%%, max %.2f%% over %d CPU figures (saved for backward, phase peaks)",
          dataSet, ValidationReport.median(all), all.max() ?? 0, all.count))
    }
    let wrong = report.published.filter(\.isWrongFit).count
    context.print(
      "published: \(report.published.count) rows mapped (\(report.published.filter { $0.trustGroup == "high" }.count) "
        + "high trust), \(report.expressed.count) expressed but not validated, \(report.context.count) listed as context; "
        + "\(wrong) wrong fits")
    let wrongOnOOM = report.wrongFitsOnOutOfMemoryReports.map(\.id)
    context.print(
      "out-of-memory reports: \(report.outOfMemory.count) mapped, \(report.outOfMemoryContext.count) listed; judged fits: "
        + (wrongOnOOM.isEmpty ? "none" : wrongOnOOM.joined(separator: ", ")))
    return .success
  }

  /// The package root: the current directory when it holds Package.swift, else its parents.
  static func packageRoot() -> URL {
    var url = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    for _ in 0..<6 {
      if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
      url.deleteLastPathComponent()
    }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
  }
}

import QLoRABudget
import QLoRABudgetInputs

/// `qlora-budget diagnose <message|file|-> [<model>] [options]`: reads PyTorch's out-of-memory
/// messages and, given the run's model and setup, holds the failure against the estimate and
/// lists the planner's single changes that make the run fit.
enum DiagnoseCommand: Command {
  static let name = "diagnose"
  static let summary = "Read a CUDA out-of-memory message; explain it against the estimate."
  static let arguments = "<message|file|-> [<model>] [options]"
  static let json = OptionSpec.flag("--json", "Print one JSON object (see docs/cli.md).")
  static let options: [OptionSpec] =
    [
      EstimateRequest.gpuOption(
        "gpu", "The GPU preset the run failed on (its architecture; the capacity is the message's).")
    ]
    + ModelSourceOptions.specs + SetupOptions.specs + [json]

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    try arguments.expectPositionals(atMost: 2)
    let input = try arguments.positional(0, named: "message|file|-")
    let messages = try OutOfMemoryReader.messages(in: try MessageInput.text(input))
    let runArguments = arguments.droppingPositionals(1)
    var report: DiagnosisReport?
    if !runArguments.positionals.isEmpty || runArguments.value(ModelSourceOptions.config) != nil {
      let request = try EstimateRequest(runArguments, context, requiresGPU: false)
      for warning in SetupOptions.warnings(try request.estimate()) { context.warn(warning) }
      guard let message = messages.first(where: { $0.totalCapacity != nil }) else {
        throw DiagnosisDetailError.noCapacity
      }
      let diagnosis = try OutOfMemoryDiagnosis(
        message: message, model: request.model, setup: request.setup, gpu: request.gpu)
      let planner = Planner(model: request.model, setup: request.setup, gpu: diagnosis.gpu)
      let changes = try PlanningOptions.run { () throws(PlanningError) in try planner.changes() }
      report = DiagnosisReport(
        diagnosis: diagnosis, messageNumber: (messages.firstIndex(of: message) ?? 0) + 1, changes: changes)
    }
    if arguments.has(json) {
      context.print(DiagnosisJSON.object(messages, report).rendered())
    } else {
      context.standardOutput(DiagnosisText.render(messages, report, color: context.usesColor))
    }
    return .success
  }
}

/// A diagnosis with what the commands print beside it.
struct DiagnosisReport {
  let diagnosis: OutOfMemoryDiagnosis
  /// Which message (1-based, in order of appearance) is diagnosed: the first stating a capacity.
  let messageNumber: Int
  let changes: [FitChange]
}

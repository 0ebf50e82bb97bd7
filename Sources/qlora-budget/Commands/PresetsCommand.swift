import QLoRABudget
import QLoRABudgetInputs

/// `qlora-budget presets models|gpus`: what the tool knows by name.
enum PresetsCommand: Command {
  static let name = "presets"
  static let summary = "List the built-in model and GPU presets."
  static let arguments = "models|gpus [--json]"
  static let json = OptionSpec.flag("--json", "Print a JSON array.")
  static let options: [OptionSpec] = [json]

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    try arguments.expectPositionals(atMost: 1)
    let kind = try arguments.positional(0, named: "models|gpus")
    let json = arguments.has(Self.json)
    switch kind {
    case "models":
      var rows: [JSONOutput] = []
      for name in context.presets.modelNames {
        let model = try context.presets.model(named: name)
        rows.append(
          .object([
            ("name", .string(name)), ("model_type", .string(model.modelType)),
            ("parameters", .integer(model.parameterCount)),
          ]))
        if !json {
          context.print(
            HelpText.pad(name, 28) + HelpText.pad(model.modelType, 12)
              + EstimateText.leftPad(NumberText.grouped(model.parameterCount), 20) + " params")
        }
      }
      if json { context.print(JSONOutput.array(rows).rendered()) }
    case "gpus":
      let gpus = try context.presets.allGPUs()
      if json {
        context.print(JSONOutput.array(gpus.map(EstimateJSON.gpu)).rendered())
      } else {
        for gpu in gpus {
          context.print(
            HelpText.pad(gpu.name, 24) + HelpText.pad(String(gpu.displayName.prefix(32)), 34)
              + EstimateText.leftPad(NumberText.grouped(gpu.capacity.bytes >> 20) + " MiB", 13))
        }
      }
    default:
      throw UsageError.invalidValue(kind, for: "<models|gpus>", "use 'models' or 'gpus'")
    }
    return .success
  }
}

import Foundation
import QLoRABudget
import QLoRABudgetInputs

/// The tools the MCP server offers: each is a CLI command run in-process with `--json`, so an
/// agent gets the JSON `qlora-budget <command> --json` prints, from the same library calls.
/// Their argument schemas are generated from the commands' option specs.
struct MCPTool {
  /// A positional argument of the command, in order.
  struct Positional {
    let name: String
    let description: String
    var values: [String] = []
    var required = false
  }

  let command: any Command.Type
  let description: String
  let positionals: [Positional]
  /// Options required in the schema (besides required positionals), e.g. `gpu` for fit.
  var requiredOptions: [String] = []

  var name: String { command.name }

  /// Options an agent may not pass: output files and output forms the tool decides itself.
  static let withheldOptions: Set<String> = ["--json", "--explain", "--svg", "--output", "--margin-output"]

  var options: [OptionSpec] { command.options.filter { !Self.withheldOptions.contains($0.name) } }

  /// `--seq-len` is the argument `seq_len`.
  static func argumentName(_ option: String) -> String {
    String(option.dropFirst(2)).replacingOccurrences(of: "-", with: "_")
  }

  static let all: [MCPTool] = [
    MCPTool(
      command: FitCommand.self,
      description:
        "Whether a QLoRA/LoRA fine-tune fits a GPU: verdict (fits, tight, does_not_fit), peak memory and headroom, "
        + "every component in bytes. gpu 'auto' reads this machine's GPU with nvidia-smi.",
      positionals: [model(required: false)], requiredOptions: ["gpu"]),
    MCPTool(
      command: EstimateCommand.self, description: "Where every byte of a training step goes, with or without a GPU.",
      positionals: [model(required: false)]),
    MCPTool(
      command: SolveCommand.self,
      description:
        "The largest rank, sequence length or batch that fits, the fewest GPUs, the smallest GPU preset, and the "
        + "single changes that make a run fit.",
      positionals: [model(required: false)]),
    MCPTool(
      command: DiagnoseCommand.self,
      description:
        "Read PyTorch's CUDA/HIP out-of-memory message (every figure in exact bytes); with the run's model and "
        + "settings, explain the failure against the estimate and list the smallest changes that make it fit.",
      positionals: [
        Positional(
          name: "message", description: "The out-of-memory message as printed (a whole log excerpt is fine).",
          required: true),
        Positional(
          name: "model", description: "The run's model: a preset name, a Hugging Face id or a config.json path."),
      ]),
    MCPTool(
      command: PresetsCommand.self, description: "The built-in model or GPU presets.",
      positionals: [Positional(name: "kind", description: "What to list.", values: ["models", "gpus"], required: true)]),
  ]

  static func model(required: Bool) -> Positional {
    Positional(
      name: "model",
      description:
        "A preset name (see the presets tool), a Hugging Face model id, or a path to a config.json or model folder "
        + "(optional with config).", required: required)
  }

  /// The tool as `tools/list` describes it, with its JSON Schema.
  var listing: JSONOutput {
    var properties: [(String, JSONOutput)] = positionals.map { positional in
      var schema: [(String, JSONOutput)] = [
        ("type", .string("string")), ("description", .string(positional.description)),
      ]
      if !positional.values.isEmpty { schema.append(("enum", .array(positional.values.map { .string($0) }))) }
      return (positional.name, .object(schema))
    }
    for option in options {
      var schema: [(String, JSONOutput)] = []
      if !option.takesValue {
        schema.append(("type", .string("boolean")))
      } else if !option.values.isEmpty {
        schema.append(("type", .string("string")))
        schema.append(("enum", .array(option.values.map { .string($0) })))
      } else {
        schema.append(("type", .array([.string("string"), .string("number"), .string("boolean")])))
      }
      var description = option.help
      if let defaultValue = option.defaultValue { description += " Default: \(defaultValue)." }
      schema.append(("description", .string(description)))
      properties.append((Self.argumentName(option.name), .object(schema)))
    }
    let required = positionals.filter(\.required).map(\.name) + requiredOptions
    return .object([
      ("name", .string(name)),
      ("description", .string(description)),
      (
        "inputSchema",
        .object([
          ("type", .string("object")), ("properties", .object(properties)),
          ("required", .array(required.map { .string($0) })), ("additionalProperties", .bool(false)),
        ])
      ),
    ])
  }

  /// The command line for `arguments`: options as `--name=value`, then `--` and the
  /// positionals, so that no value is read as an option.
  func commandLine(_ arguments: [String: Any]) throws(MCPError) -> [String] {
    var line = [name]
    for key in arguments.keys.sorted() where !positionals.contains(where: { $0.name == key }) {
      guard let option = options.first(where: { Self.argumentName($0.name) == key }) else {
        throw .invalidParams("unknown argument '\(key)' for \(name)")
      }
      let value = arguments[key]!
      if !option.takesValue {
        guard let flag = MCPArguments.boolean(value) else { throw .invalidParams("'\(key)' must be true or false") }
        if flag { line.append(option.name) }
      } else {
        guard let text = MCPArguments.text(value) else {
          throw .invalidParams("'\(key)' must be a string, number or boolean")
        }
        line.append(option.name + "=" + text)
      }
    }
    for key in requiredOptions where arguments[key] == nil { throw .invalidParams("'\(key)' is required for \(name)") }
    line.append("--json")
    var values: [String] = []
    for positional in positionals {
      guard let value = arguments[positional.name] else {
        if positional.required { throw .invalidParams("'\(positional.name)' is required for \(name)") }
        break
      }
      guard let text = value as? String else { throw .invalidParams("'\(positional.name)' must be a string") }
      // '-' would read the server's own stdin; a leading '-' would read as an option.
      guard !text.hasPrefix("-") else { throw .invalidParams("'\(positional.name)' must not begin with '-'") }
      if !positional.values.isEmpty, !positional.values.contains(text) {
        throw .invalidParams("'\(positional.name)' must be one of \(positional.values.joined(separator: ", "))")
      }
      values.append(text)
    }
    return line + ["--"] + values
  }
}

/// JSON argument values as command-line text.
enum MCPArguments {
  static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

  static func boolean(_ value: Any) -> Bool? {
    if let number = value as? NSNumber, isBoolean(number) { return number.boolValue }
    return nil
  }

  static func text(_ value: Any) -> String? {
    if let text = value as? String { return text }
    guard let number = value as? NSNumber else { return nil }
    if isBoolean(number) { return number.boolValue ? "true" : "false" }
    let double = number.doubleValue
    guard double.isFinite else { return nil }
    if double == double.rounded(), abs(double) < 9e15 { return String(Int64(double)) }
    return String(double)
  }
}

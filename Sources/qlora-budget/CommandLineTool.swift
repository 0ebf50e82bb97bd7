import Foundation
import QLoRABudget
import QLoRABudgetInputs

/// Dispatches `qlora-budget <command> ...` to a ``Command`` and turns every error into a
/// message on stderr and an exit code. The only place that decides exit codes.
enum CommandLineTool {
  static func run(_ arguments: [String], context: CommandContext) -> ExitStatus {
    var arguments = arguments
    var context = context
    do {
      let (folder, rest) = try PresetsOption.extract(from: arguments)
      arguments = rest
      if let folder { context.presets = try PresetCatalog(directory: folder) }
    } catch let error as UsageError {
      context.standardError("Error: \(oneLine(error.message))\nSee 'qlora-budget help'.\n")
      return .usage
    } catch {
      context.standardError("Error: \(oneLine(ErrorWording.words(error)))\n")
      return .failure
    }
    guard let name = arguments.first, !["help", "--help", "-h"].contains(name) else {
      guard arguments.count > 1 else {
        context.standardOutput(HelpText.overview)
        return .success
      }
      guard let command = CommandTable.command(named: arguments[1]) else {
        return unknownCommand(arguments[1], context)
      }
      context.standardOutput(HelpText.command(command))
      return .success
    }
    if name == "--version" {
      context.print(HelpText.version)
      return .success
    }
    guard let command = CommandTable.command(named: name) else { return unknownCommand(name, context) }
    let rest = Array(arguments.dropFirst())
    if rest.contains("--help") || rest.contains("-h") {
      context.standardOutput(HelpText.command(command))
      return .success
    }
    do {
      let parsed = try ParsedArguments(rest, command: command.name, options: command.options)
      return try command.run(parsed, context)
    } catch let error as UsageError {
      context.standardError(
        "Error: \(oneLine(error.message))\nUsage: \(HelpText.usageLine(command))\n  See 'qlora-budget \(command.name) --help'.\n"
      )
      return .usage
    } catch let error as PresetError {
      context.standardError("Error: \(oneLine(ErrorWording.words(error)))\n")
      switch error {
      case .unknownModel, .unknownGPU: return .usage
      default: return .failure
      }
    } catch let error as ModelSourceError {
      context.standardError("Error: \(oneLine(ModelSourceOptions.words(error)))\n")
      switch error {
      case .notFound, .preset(.unknownModel), .preset(.unknownGPU): return .usage
      default: return .failure
      }
    } catch {
      context.standardError("Error: \(oneLine(ErrorWording.words(error)))\n")
      return .failure
    }
  }

  /// `qlora-budget NAME` or `qlora-budget help NAME` for a command that does not exist.
  static func unknownCommand(_ name: String, _ context: CommandContext) -> ExitStatus {
    let hint =
      Suggestions.closest(to: name, among: CommandTable.all.map { $0.name }, limit: 1).first
      .map { " Did you mean '\($0)'?" } ?? ""
    context.standardError("Error: Unknown command '\(oneLine(name))'.\(hint)\nSee 'qlora-budget help'.\n")
    return .usage
  }

  /// An error message on one line: values people typed or files carried may hold newlines or
  /// other control characters, which are shown escaped (`\n`, `\u{1B}`).
  static func oneLine(_ message: Any) -> String {
    var text = ""
    for scalar in "\(message)".unicodeScalars {
      switch scalar {
      case "\n": text += "\\n"
      case "\r": text += "\\r"
      case "\t": text += "\\t"
      case _ where scalar.value < 0x20 || scalar.value == 0x7F:
        text += "\\u{" + String(scalar.value, radix: 16) + "}"
      default: text.unicodeScalars.append(scalar)
      }
    }
    return text
  }
}

@main
struct QLoRABudgetTool {
  static func main() {
    let environment = ProcessEnvironment.current()
    let context = CommandContext(
      standardOutput: { FileHandle.standardOutput.write(Data($0.utf8)) },
      standardError: { FileHandle.standardError.write(Data($0.utf8)) },
      environment: environment, presets: .bundled,
      usesColor: CommandContext.usesColor(isTerminal: isatty(STDOUT_FILENO) == 1, environment: environment))
    let status = CommandLineTool.run(Array(CommandLine.arguments.dropFirst()), context: context)
    exit(status.rawValue)
  }
}

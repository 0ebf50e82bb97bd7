import QLoRABudget
import QLoRABudgetInputs

/// A subcommand: its name, help, options and what it does. Register new ones in
/// ``CommandTable/all``.
protocol Command: Sendable {
  static var name: String { get }
  /// One line for the command list.
  static var summary: String { get }
  /// The arguments after the command name, e.g. `<model> --gpu <gpu|size> [options]`.
  static var arguments: String { get }
  static var options: [OptionSpec] { get }
  /// Runs the command; the returned status is the process's exit code.
  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus
}

/// What a command may touch: its output streams, the environment and the presets.
struct CommandContext {
  var standardOutput: (String) -> Void
  var standardError: (String) -> Void
  var environment: [String: String]
  var presets: PresetCatalog
  /// Whether to colour the output: ``usesColor(isTerminal:environment:)``.
  var usesColor: Bool

  /// Colour only on a terminal that has it: stdout is a tty, NO_COLOR is unset
  /// (https://no-color.org) and TERM is set and not `dumb`.
  static func usesColor(isTerminal: Bool, environment: [String: String]) -> Bool {
    guard isTerminal, environment["NO_COLOR"] == nil, let term = environment["TERM"] else { return false }
    return !term.isEmpty && term != "dumb"
  }

  func print(_ text: String) { standardOutput(text + "\n") }
  /// A warning on one line; values from files or the command line in it are shown escaped.
  func warn(_ text: String) { standardError("warning: " + CommandLineTool.oneLine(text) + "\n") }
}

/// The process exit codes (documented in docs/cli.md).
enum ExitStatus: Int32 {
  /// The exit status of `fit` for a verdict.
  init(_ verdict: Verdict) {
    switch verdict {
    case .fits: self = .success
    case .tight: self = .tight
    case .doesNotFit: self = .doesNotFit
    }
  }

  case success = 0
  /// Any failure that is not a usage error: unreadable file, invalid config, estimate refused.
  case failure = 1
  /// `fit`: the run is tight (within the verdict's margin below the capacity).
  case tight = 2
  /// `fit`: the run does not fit the GPU (or the host memory given).
  case doesNotFit = 3
  /// EX_USAGE: the command line itself is wrong.
  case usage = 64
}

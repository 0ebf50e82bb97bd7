import FileSafety
import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Safetensors

/// What the planning commands (solve, table, compare) share: where to write a chart, how a
/// planner's refusal reaches the command line, and comma-separated lists.
enum PlanningOptions {
  static let svg = OptionSpec.value("--svg", "file", "Also write a chart as an SVG file.")
  static let force = OptionSpec.flag("--force", "Replace an existing output file (never one of the command's inputs).")
  /// The options that name files a command writes.
  static let outputOptions: Set<String> = [svg.name, ValidateCommand.output.name, ValidateCommand.marginOutput.name]

  /// Warns, once each, what any of the setups asks of a GPU it is judged on that the GPU cannot do.
  static func warnIncompatibilities(_ pairs: [(setup: TrainingSetup, gpu: GPU)], _ context: CommandContext) {
    var warned: Set<HardwareIncompatibility> = []
    for (setup, gpu) in pairs {
      for incompatibility in gpu.incompatibilities(with: setup) where warned.insert(incompatibility).inserted {
        context.warn(SetupOptions.warning(incompatibility))
      }
    }
  }

  /// Runs a planner call, turning a refused setup into a usage error (a value on the command line).
  static func run<T>(_ body: () throws(PlanningError) -> T) throws -> T {
    do {
      return try body()
    } catch .setup(let error) {
      if case .overflow = error { throw error }
      throw SetupOptions.usageError(error)
    } catch {
      throw error
    }
  }

  /// Writes `text` to `path` (for --svg, --output, --margin-output) through the atomic writer,
  /// by the rule for every file the tool writes: a temporary file beside it, renamed over it
  /// when complete; an existing file is replaced only with `--force`; a file the command reads
  /// (any argument naming a file, or a folder's config.json), compared by device and inode
  /// through links, is never replaced; a folder, FIFO or device is refused.
  static func write(_ text: String, to path: String, _ arguments: ParsedArguments) throws {
    try AtomicFileWriter.write(
      Array(text.utf8), to: path, replacingExisting: arguments.has(force), protecting: inputs(arguments))
  }

  /// The files a command reads, by identity: those its arguments name, and every file it has
  /// opened so far (a config's DeepSpeed file, a cached Hub config.json).
  static func inputs(_ arguments: ParsedArguments) -> [FileIdentity: String] {
    var inputs = OpenedFiles.all
    for argument in arguments.arguments(except: outputOptions) where !argument.isEmpty {
      for path in [argument, argument + "/config.json"] {
        if let identity = FileIdentity(path: path), inputs[identity] == nil { inputs[identity] = path }
      }
    }
    return inputs
  }

  /// A comma-separated list option, each element trimmed; nil when absent.
  static func list(_ arguments: ParsedArguments, _ spec: OptionSpec) throws(UsageError) -> [String]? {
    let option = spec.name
    guard let text = arguments.value(spec) else { return nil }
    let items = text.split(separator: ",", omittingEmptySubsequences: false).map {
      $0.trimmingHorizontalWhitespace()
    }
    guard !items.contains(where: \.isEmpty) else {
      throw .invalidValue(text, for: option, "a list joined by commas, e.g. 'a,b'")
    }
    return items
  }

  /// A comma-separated list of values of a whole-number setting.
  static func integers(_ arguments: ParsedArguments, _ spec: OptionSpec, of setting: Setting) throws(UsageError)
    -> [Int64]?
  {
    let option = spec.name
    guard let items = try list(arguments, spec) else { return nil }
    var numbers: [Int64] = []
    for item in items {
      do {
        if let number = try setting.parse(item).integerValue { numbers.append(number) }
      } catch {
        throw .invalidValue(item, for: option, error.expected)
      }
    }
    return numbers
  }
}

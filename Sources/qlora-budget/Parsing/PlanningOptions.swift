import Foundation
import Safetensors
import QLoRABudget

/// Options the planning commands (solve, table, compare) share: what "fits" means, how many
/// GPUs the run is sharded over, and where to write a chart.
enum PlanningOptions {
  static let fitBy = OptionSpec.value(
    "--fit-by", "measure",
    "What is held against the capacity: the peak process memory, or only the resident bytes (a lower "
      + "bound); auto takes the peak when the estimator models it.",
    values: ["auto", "peak", "resident"], default: "auto")
  static let allowTight = OptionSpec.flag("--allow-tight", "Count a 'tight' verdict (capacity inside the estimate's uncertainty) as fitting.")
  static let svg = OptionSpec.value("--svg", "file", "Also write a chart as an SVG file.")

  static let specs: [OptionSpec] = [fitBy, allowTight]

  static func criterion(_ arguments: ParsedArguments) throws(UsageError) -> FitCriterion {
    var criterion = FitCriterion(allowsTight: arguments.has("--allow-tight"))
    switch arguments.value("--fit-by")?.lowercased() {
    case nil, "auto": criterion.measure = nil
    case "peak": criterion.measure = .peak
    case "resident": criterion.measure = .resident
    case let other?:
      let hint = Suggestions.closest(to: other, among: ["auto", "peak", "resident"], limit: 1).first
        .map { " Did you mean '\($0)'?" } ?? ""
      throw .invalidValue(other, for: "--fit-by", "use one of auto, peak, resident.\(hint)")
    }
    return criterion
  }

  static func gpuCount(_ arguments: ParsedArguments) throws(UsageError) -> Int64 {
    try arguments.integer("--gpus", in: 1...TrainingSetup.maximumGPUCount) ?? 1
  }

  /// Runs a planner call, turning a refused setup into a usage error (a value on the command line).
  static func run<T>(_ body: () throws(PlanningError) -> T) throws -> T {
    do {
      return try body()
    } catch .setup(let error) {
      if case .overflow = error { throw error }
      throw UsageError(error.description)
    } catch {
      throw error
    }
  }

  /// Writes `text` to `path` (for --svg and --output) through the atomic writer: a temporary
  /// file beside it, renamed over it when complete; links are followed, and a folder, FIFO or
  /// device is refused.
  static func write(_ text: String, to path: String) throws {
    try AtomicFileWriter.write(Array(text.utf8), to: path, replacingExisting: true)
  }

  /// A comma-separated list option, each element trimmed; nil when absent.
  static func list(_ arguments: ParsedArguments, _ option: String) throws(UsageError) -> [String]? {
    guard let text = arguments.value(option) else { return nil }
    let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    guard !items.contains(where: \.isEmpty) else {
      throw .invalidValue(text, for: option, "a list joined by commas, e.g. 'a,b'")
    }
    return items
  }

  /// A comma-separated list of whole numbers in `range`.
  static func integers(_ arguments: ParsedArguments, _ option: String, in range: ClosedRange<Int64>) throws(UsageError) -> [Int64]? {
    guard let items = try list(arguments, option) else { return nil }
    var numbers: [Int64] = []
    for item in items {
      guard let number = Int64(item) else { throw .invalidValue(item, for: option, "expected whole numbers joined by commas") }
      guard range.contains(number) else {
        throw .invalidValue(item, for: option, "must be between \(range.lowerBound) and \(range.upperBound)")
      }
      numbers.append(number)
    }
    return numbers
  }
}

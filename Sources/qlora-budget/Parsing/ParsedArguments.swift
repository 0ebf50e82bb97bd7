import QLoRABudget
import QLoRABudgetInputs

/// A command's arguments after parsing: positionals, option values and flags, each option at
/// most once, every name checked against the command's ``OptionSpec``s. Commands read options
/// by their ``OptionSpec`` constants, never by a name typed again: a misspelled constant does
/// not compile, where a misspelled string would read as absent.
struct ParsedArguments {
  let command: String
  private(set) var positionals: [String] = []
  private var values: [String: String] = [:]
  private var flags: Set<String> = []

  /// Parses `arguments` (after the command name). `--name=value` and `--name value` both work.
  init(_ arguments: [String], command: String, options: [OptionSpec]) throws(UsageError) {
    self.command = command
    let specs = Dictionary(options.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    var index = 0
    var onlyPositionals = false
    while index < arguments.count {
      let argument = arguments[index]
      index += 1
      guard !onlyPositionals, argument.hasPrefix("-"), argument != "-" else {
        positionals.append(argument)
        continue
      }
      if argument == "--" {
        onlyPositionals = true
        continue
      }
      var name = argument
      var inlineValue: String?
      if let equals = argument.firstIndex(of: "=") {
        name = String(argument[..<equals])
        inlineValue = String(argument[argument.index(after: equals)...])
      }
      guard let spec = specs[name] else {
        let hint =
          Suggestions.closest(to: name, among: options.map(\.name), limit: 1).first
          .map { " Did you mean '\($0)'?" } ?? ""
        throw UsageError("Unknown option '\(name)'.\(hint)", command: command)
      }
      guard values[name] == nil, !flags.contains(name) else {
        throw UsageError("The option '\(name)' is given more than once.", command: command)
      }
      if spec.takesValue {
        if let inlineValue {
          values[name] = inlineValue
        } else {
          guard index < arguments.count else {
            throw UsageError("Missing value for '\(spec.synopsis)'.", command: command)
          }
          values[name] = arguments[index]
          index += 1
        }
      } else {
        guard inlineValue == nil else {
          throw UsageError("The flag '\(name)' takes no value.", command: command)
        }
        flags.insert(name)
      }
    }
  }

  func has(_ flag: OptionSpec) -> Bool { flags.contains(flag.name) }

  func value(_ option: OptionSpec) -> String? { values[option.name] }

  /// The positionals and every option's value but those of `options` (for the files a command reads).
  func arguments(except options: Set<String>) -> [String] {
    positionals + values.filter { !options.contains($0.key) }.map(\.value)
  }

  /// The same arguments without the first `count` positionals (a command whose first argument
  /// is not the model, e.g. `diagnose <message> [<model>]`).
  func droppingPositionals(_ count: Int) -> ParsedArguments {
    var rest = self
    rest.positionals = Array(positionals.dropFirst(count))
    return rest
  }

  /// The single positional argument a command needs, named for the error message.
  func positional(_ index: Int, named name: String) throws(UsageError) -> String {
    guard index < positionals.count else {
      throw UsageError("Missing expected argument '<\(name)>'.", command: command)
    }
    return positionals[index]
  }

  func expectPositionals(atMost count: Int) throws(UsageError) {
    guard positionals.count <= count else {
      throw UsageError("Unexpected argument '\(positionals[count])'.", command: command)
    }
  }

  /// A whole number in `range`, or nil when the option is absent.
  func integer(_ spec: OptionSpec, in range: ClosedRange<Int64>) throws(UsageError) -> Int64? {
    let option = spec.name
    guard let text = values[option] else { return nil }
    guard let number = Int64(text) else {
      throw .invalidValue(text, for: option, "expected a whole number")
    }
    guard range.contains(number) else {
      throw .invalidValue(text, for: option, "must be between \(range.lowerBound) and \(range.upperBound)")
    }
    return number
  }

  /// A finite number in `range`, or nil when the option is absent.
  func number(_ spec: OptionSpec, in range: ClosedRange<Double>) throws(UsageError) -> Double? {
    let option = spec.name
    guard let text = values[option] else { return nil }
    guard let number = Double(text), number.isFinite else {
      throw .invalidValue(text, for: option, "expected a number")
    }
    guard range.contains(number) else {
      throw .invalidValue(text, for: option, "must be between \(range.lowerBound) and \(range.upperBound)")
    }
    return number
  }

  /// `true`/`false` (also yes/no, on/off, 1/0), or nil when absent.
  func boolean(_ spec: OptionSpec) throws(UsageError) -> Bool? {
    let option = spec.name
    guard let text = values[option] else { return nil }
    switch text.lowercased() {
    case "true", "yes", "on", "1": return true
    case "false", "no", "off", "0": return false
    default: throw .invalidValue(text, for: option, "expected true or false")
    }
  }

  /// One of an enum's raw values, or nil when absent.
  func choice<T: RawRepresentable & CaseIterable>(_ spec: OptionSpec, as type: T.Type) throws(UsageError) -> T?
  where T.RawValue == String {
    let option = spec.name
    guard let text = values[option] else { return nil }
    if let value = T(rawValue: text.lowercased()) { return value }
    let allowed = T.allCases.map(\.rawValue)
    let hint = Suggestions.closest(to: text, among: allowed, limit: 1).first.map { " Did you mean '\($0)'?" } ?? ""
    throw .invalidValue(text, for: option, "use one of \(allowed.joined(separator: ", ")).\(hint)")
  }
}

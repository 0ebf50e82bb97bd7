/// One option a command accepts, with what help text shows for it.
struct OptionSpec: Sendable {
  enum Kind: Sendable {
    /// `--json`: present or absent.
    case flag
    /// `--rank 32`: takes one value.
    case value(name: String)
  }

  let name: String
  let kind: Kind
  let help: String
  /// The accepted values, for help and "did you mean" (empty when free-form).
  var values: [String] = []
  /// The default, as help shows it (nil when there is none to show).
  var defaultValue: String? = nil

  static func flag(_ name: String, _ help: String) -> OptionSpec {
    OptionSpec(name: name, kind: .flag, help: help)
  }

  static func value(
    _ name: String, _ valueName: String, _ help: String, values: [String] = [], default defaultValue: String? = nil
  ) -> OptionSpec {
    OptionSpec(name: name, kind: .value(name: valueName), help: help, values: values, defaultValue: defaultValue)
  }

  var takesValue: Bool {
    if case .value = kind { return true }
    return false
  }

  /// `--rank <n>` or `--json`.
  var synopsis: String {
    switch kind {
    case .flag: return name
    case .value(let valueName): return "\(name) <\(valueName)>"
    }
  }
}

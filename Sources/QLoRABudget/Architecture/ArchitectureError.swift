/// Why a Hugging Face `config.json` could not be turned into a ``ModelArchitecture``.
public enum ArchitectureError: Error, Hashable, Sendable, CustomStringConvertible {
  /// A key the architecture needs is absent (or null).
  case missingKey(String, model: String)
  /// A key is present but its value is the wrong type, not a whole number, or out of range.
  case invalidValue(key: String, value: String, reason: String, model: String)
  /// The config is not a JSON object, or could not be parsed.
  case malformedConfig(reason: String, model: String)

  public var description: String {
    switch self {
    case let .missingKey(key, model):
      return "config.json of '\(model)' has no '\(key)', which the estimate needs"
    case let .invalidValue(key, value, reason, model):
      return "config.json of '\(model)': '\(key)' is \(value): \(reason)"
    case let .malformedConfig(reason, model):
      return "config.json of '\(model)' cannot be read: \(reason)"
    }
  }
}

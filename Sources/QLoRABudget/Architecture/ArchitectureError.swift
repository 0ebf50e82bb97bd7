/// Why a Hugging Face `config.json` could not be turned into a ``ModelArchitecture``.
public enum ArchitectureError: Error, Hashable, Sendable, CustomStringConvertible {
  /// A key the architecture needs is absent (or null).
  case missingKey(String, model: String)
  /// A key is present but its value is the wrong type, not a whole number, or out of range.
  case invalidValue(key: String, value: String, reason: String, model: String)
  /// The config is not a JSON object, or could not be parsed.
  case malformedConfig(reason: String, model: String)
  /// The config's `model_type` (empty when absent) is not one of
  /// ``ModelArchitecture/knownModelTypes``, and no family to read it as was given.
  case unmodelledType(String, model: String)
  /// The family asked to read a config as is not a modelled `model_type`.
  case unknownFamily(String)

  public var description: String {
    switch self {
    case .missingKey(let key, let model):
      return "config.json of '\(model)' has no '\(key)', which the estimate needs"
    case .invalidValue(let key, let value, let reason, let model):
      return "config.json of '\(model)': '\(key)' is \(value): \(reason)"
    case .malformedConfig(let reason, let model):
      return "config.json of '\(model)' cannot be read: \(reason)"
    case .unmodelledType(let type, let model):
      let what = type.isEmpty ? "has no model_type" : "has model_type '\(type)', which is not modelled"
      return "config.json of '\(model)' \(what); the modelled families are \(Self.families). "
        + "No estimate is given for a layout that is not modelled, unless the family to read it as is named"
    case .unknownFamily(let family):
      return "'\(family)' is not a modelled family to read a config as; use one of \(Self.families)"
    }
  }

  /// Whether this is the refusal of a `model_type` that is not modelled.
  public var isUnmodelledType: Bool {
    if case .unmodelledType = self { return true }
    return false
  }

  private static var families: String { ModelArchitecture.knownModelTypes.joined(separator: ", ") }
}

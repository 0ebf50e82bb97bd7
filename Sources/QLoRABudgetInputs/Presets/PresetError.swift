import QLoRABudget

/// A preset or model file that could not be found or read.
public enum PresetError: Error, Hashable, Sendable, CustomStringConvertible {
  case unknownModel(name: String, suggestions: [String])
  case unknownGPU(name: String, suggestions: [String])
  case malformedPreset(name: String, reason: String)
  case unreadableFile(path: String, reason: String)
  case invalidConfig(ArchitectureError)

  public var description: String {
    switch self {
    case .unknownModel(let name, let suggestions):
      return "unknown model '\(name)'" + Self.hint(suggestions)
        + " (see 'qlora-budget presets models', or give a path to a config.json or a model folder)"
    case .unknownGPU(let name, let suggestions):
      return "unknown GPU '\(name)'" + Self.hint(suggestions)
        + " (see 'qlora-budget presets gpus', or give a size such as '24GB' or '24GiB')"
    case .malformedPreset(let name, let reason):
      return "preset '\(name)' cannot be read: \(reason)"
    case .unreadableFile(let path, let reason):
      return "cannot read '\(path)': \(reason)"
    case .invalidConfig(let error):
      return error.description
    }
  }

  private static func hint(_ suggestions: [String]) -> String {
    guard !suggestions.isEmpty else { return "" }
    return "; did you mean " + suggestions.map { "'\($0)'" }.joined(separator: " or ") + "?"
  }
}

import Foundation

/// `--presets DIR`, which may stand anywhere on the line (before or after the command), so it is
/// taken out before the command's own options are read.
enum PresetsOption {
  static let name = "--presets"

  /// The folder `--presets` names (nil without it) and the arguments without it. Given twice,
  /// without a value or with an empty one, it is refused by name rather than left for the
  /// command to misread ("Unknown command '--presets'") or read as the current folder.
  static func extract(from arguments: [String]) throws(UsageError) -> (folder: URL?, rest: [String]) {
    let indices = arguments.indices.filter { arguments[$0] == name }
    guard let index = indices.first else { return (nil, arguments) }
    guard indices.count == 1 else { throw UsageError("The option '\(name)' is given more than once.") }
    guard index + 1 < arguments.count else { throw UsageError("Missing value for '\(name) <dir>'.") }
    let value = arguments[index + 1]
    guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
      throw .invalidValue(value, for: name, "give a folder laid out like Presets/")
    }
    var rest = arguments
    rest.removeSubrange(index...(index + 1))
    return (URL(fileURLWithPath: value), rest)
  }
}

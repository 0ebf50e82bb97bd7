/// A model argument that names no model the tool could find, with every place it looked.
public enum ModelSourceError: Error, Hashable, Sendable, CustomStringConvertible {
  /// Not a preset, a file, a cached model or (when allowed) a downloaded one.
  case notFound(id: String, looked: [String], downloadHint: String?)
  /// The Hub (or HF_ENDPOINT) answered, but not with a usable config.json.
  case download(id: String, url: String, reason: String)
  /// A config.json in the cache that cannot be read.
  case cache(path: String, reason: String)
  case preset(PresetError)

  public var description: String {
    switch self {
    case let .notFound(id, looked, hint):
      return "unknown model '\(id)': looked in " + looked.joined(separator: "; ") + (hint.map { ". \($0)" } ?? "")
    case let .download(id, url, reason):
      return "cannot download the config of '\(id)' from \(url): \(reason)"
    case let .cache(path, reason):
      return "cannot read the cached config '\(path)': \(reason)"
    case .preset(let error):
      return error.description
    }
  }
}

import QLoRABudget

/// A model argument that names no model the tool could find, with every place it looked.
public enum ModelSourceError: Error, Hashable, Sendable, CustomStringConvertible {
  /// Not a preset, a file, a cached model or (when allowed) a downloaded one.
  case notFound(id: String, looked: [String], downloadHint: DownloadHint?)
  /// The Hub (or HF_ENDPOINT) answered, but not with a usable config.json.
  case download(id: String, url: String, reason: String)
  /// A config.json in the cache that cannot be read.
  case cache(path: String, reason: String)
  case preset(PresetError)

  public var description: String { described(downloadAdvice: \.description) }

  /// The description with `downloadAdvice` wording the download hint (the CLI names its flag).
  public func described(downloadAdvice: (DownloadHint) -> String) -> String {
    switch self {
    case .notFound(let id, let looked, let hint):
      return "unknown model '\(id)': looked in " + looked.joined(separator: "; ")
        + (hint.map { ". " + downloadAdvice($0) } ?? "")
    case .download(let id, let url, let reason):
      return "cannot download the config of '\(id)' from \(url): \(reason)"
    case .cache(let path, let reason):
      return "cannot read the cached config '\(path)': \(reason)"
    case .preset(let error):
      return error.description
    }
  }
}

/// Why a model that is not cached was not downloaded.
public enum DownloadHint: Hashable, Sendable, CustomStringConvertible {
  /// HF_HUB_OFFLINE is set.
  case offline
  /// No HF cache to download into (HF_HUB_CACHE, HF_HOME and HOME are unset).
  case noCache
  /// Downloads were not allowed (the library's caller decides; the CLI has a flag for it).
  case notAllowed

  public var description: String {
    switch self {
    case .offline: return "HF_HUB_OFFLINE is set, so nothing is downloaded"
    case .noCache: return "Set HF_HOME to download into a cache"
    case .notAllowed:
      return
        "Not downloaded: allow downloads (or set \(ModelResolver.downloadVariable)=1) to fetch its config.json from the Hub"
    }
  }
}

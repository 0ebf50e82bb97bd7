import Foundation

/// The local Hugging Face cache as huggingface_hub lays it out:
/// `ROOT/models--OWNER--NAME/refs/main` holds a commit, and
/// `ROOT/models--OWNER--NAME/snapshots/COMMIT/config.json` the file at that commit.
///
/// ROOT is `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
/// `~/.cache/huggingface/hub` (huggingface_hub's constants.py, in that order).
public struct HubCache: Sendable {
  public let root: URL

  public init(root: URL) { self.root = root }

  /// The cache the environment names; nil when neither HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME
  /// nor HOME is set.
  public init?(environment: [String: String]) {
    func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
    if let hub = value("HF_HUB_CACHE") ?? value("HUGGINGFACE_HUB_CACHE") {
      root = URL(fileURLWithPath: hub, isDirectory: true)
    } else if let home = value("HF_HOME") {
      root = URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent("hub", isDirectory: true)
    } else if let cache = value("XDG_CACHE_HOME") ?? value("HOME").map({ $0 + "/.cache" }) {
      root = URL(fileURLWithPath: cache, isDirectory: true).appendingPathComponent("huggingface/hub", isDirectory: true)
    } else {
      return nil
    }
  }

  func repository(_ id: HubModelID) -> URL { root.appendingPathComponent(id.cacheFolderName, isDirectory: true) }

  /// Where a lookup of `id` looks, for messages.
  public func describeLocation(of id: HubModelID) -> String {
    repository(id).path + "/snapshots/<refs/main>/config.json"
  }

  /// The cached config.json of `id` at `refs/main` (or the only snapshot when there is no
  /// ref), nil when the cache does not hold it.
  public func configFile(for id: HubModelID) -> URL? {
    let repository = repository(id)
    let snapshots = repository.appendingPathComponent("snapshots", isDirectory: true)
    let manager = FileManager.default
    if let data = try? Data(contentsOf: repository.appendingPathComponent("refs/main")),
      let commit = Self.revision(String(decoding: data, as: UTF8.self))
    {
      let file = snapshots.appendingPathComponent(commit).appendingPathComponent("config.json")
      return manager.fileExists(atPath: file.path) ? file : nil
    }
    let revisions = ((try? manager.contentsOfDirectory(atPath: snapshots.path)) ?? []).filter {
      manager.fileExists(atPath: snapshots.appendingPathComponent($0).appendingPathComponent("config.json").path)
    }
    guard revisions.count == 1 else { return nil }
    return snapshots.appendingPathComponent(revisions[0]).appendingPathComponent("config.json")
  }

  /// Stores `data` as `id`'s config.json at `commit` and points `refs/main` at it, each file
  /// written to a temporary file in its folder and renamed into place.
  public func store(_ data: Data, for id: HubModelID, commit: String) throws -> URL {
    guard let commit = Self.revision(commit) else { throw CocoaError(.fileWriteInvalidFileName) }
    let repository = repository(id)
    let snapshot = repository.appendingPathComponent("snapshots", isDirectory: true).appendingPathComponent(commit, isDirectory: true)
    let refs = repository.appendingPathComponent("refs", isDirectory: true)
    let manager = FileManager.default
    try manager.createDirectory(at: snapshot, withIntermediateDirectories: true)
    try manager.createDirectory(at: refs, withIntermediateDirectories: true)
    let file = snapshot.appendingPathComponent("config.json")
    try data.write(to: file, options: .atomic)
    try Data(commit.utf8).write(to: refs.appendingPathComponent("main"), options: .atomic)
    return file
  }

  /// A revision usable as a folder name (a commit hash or a branch name without slashes).
  static func revision(_ text: String) -> String? {
    let revision = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !revision.isEmpty, revision.count <= 128, revision != ".", revision != "..",
      revision.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) })
    else { return nil }
    return revision
  }
}

import FileSafety
import Foundation
import QLoRABudget
import Safetensors

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

  /// The largest `refs/main` read: a commit hash or branch name and a newline.
  /// The cached config.json of `id` at `refs/main` (or the only snapshot when there is no
  /// ref), nil when the cache does not hold it. `refs/main` is read with the bounded reader: a
  /// ref that is not a regular file, over 1 KiB or not a revision is an error naming it.
  public func configFile(for id: HubModelID) throws(ModelSourceError) -> URL? {
    let repository = repository(id)
    let snapshots = repository.appendingPathComponent("snapshots", isDirectory: true)
    let manager = FileManager.default
    let ref = repository.appendingPathComponent("refs/main")
    if manager.fileExists(atPath: ref.path) {
      let data: Data
      do {
        data = try InputFile.cacheRef.contents(of: ref.path)
      } catch {
        throw .cache(path: ref.path, reason: error.reason)
      }
      guard let commit = Self.revision(String(decoding: data, as: UTF8.self)) else {
        throw .cache(path: ref.path, reason: "not a commit or branch name")
      }
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
  /// through the atomic writer (a temporary file in its folder, renamed into place). Failures
  /// carry the system's reason in words.
  public func store(_ data: Data, for id: HubModelID, commit: String) throws(FileAccessError) -> URL {
    let repository = repository(id)
    guard let commit = Self.revision(commit) else {
      throw .failed(path: repository.path, action: "store a snapshot in", reason: "'\(commit)' is not a revision")
    }
    let snapshot = repository.appendingPathComponent("snapshots", isDirectory: true).appendingPathComponent(
      commit, isDirectory: true)
    let refs = repository.appendingPathComponent("refs", isDirectory: true)
    try Self.createFolders(snapshot.path)
    try Self.createFolders(refs.path)
    let file = snapshot.appendingPathComponent("config.json")
    try AtomicFileWriter.write(data, to: file.path, replacingExisting: true)
    try AtomicFileWriter.write(Data(commit.utf8), to: refs.appendingPathComponent("main").path, replacingExisting: true)
    return file
  }

  /// `mkdir -p`, with the errno text of the first folder that cannot be made.
  private static func createFolders(_ path: String) throws(FileAccessError) {
    var current = ""
    for component in path.split(separator: "/", omittingEmptySubsequences: true) {
      current += "/" + component
      if mkdir(current, 0o777) != 0, errno != EEXIST {
        throw .failed(path: current, action: "create the folder", reason: FileAccessError.reason(errno))
      }
    }
    guard FileManager.default.fileExists(atPath: path) else {
      throw .failed(path: path, action: "create the folder", reason: "a file is in the way")
    }
  }

  /// A revision usable as a folder name (a commit hash or a branch name without slashes).
  package static func revision(_ text: String) -> String? {
    let revision = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !revision.isEmpty, revision.count <= 128, revision != ".", revision != "..",
      revision.unicodeScalars.allSatisfy({
        $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0))
      })
    else { return nil }
    return revision
  }
}

import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A folder written as a whole, so that an interrupted or failed run leaves the previous folder
/// as it was and nothing behind.
///
/// Files are written (each through ``AtomicFileWriter``, from ``writer(for:)``) into a hidden staging folder beside the
/// destination, `.<name>.tmp-<pid>-<random>`, registered with ``TemporaryFileRegistry``;
/// ``publish()`` renames it to the destination, or, when the destination exists and replacing
/// was asked for, exchanges the two atomically (`renameat2(RENAME_EXCHANGE)`) and then deletes
/// the old folder. An existing empty folder is replaced without asking.
///
/// Refused before anything is created: a destination that is not a folder (links resolved), a
/// non-empty folder without `replacingExisting`, a folder that is or holds one of the inputs.
///
/// **Only a previous output is replaced.** Every published folder holds ``manifestName``, the
/// list of the files written into it. A non-empty destination is replaced only when it holds
/// that manifest and nothing the manifest does not list (no other file, no subfolder); anything
/// else (a model folder, `.`, a folder the user added files to) is refused with
/// ``FileAccessError/notAPreviousOutput(path:found:)`` naming what was found.
public final class StagingFolder {
  /// The manifest each published folder holds: `{"written_by": "qlora-budget", "files": [...]}`.
  public static let manifestName = ".qlora-budget-output.json"
  /// The largest manifest read.
  static let maximumManifestBytes: Int64 = 16 << 20
  /// The folder the files land in after ``publish()`` (links resolved).
  public let destination: String
  /// Where they are written until then.
  public let path: String
  private var slots: [Int?] = []
  private var written: [String] = []
  private var isPublished = false
  private let destinationExists: Bool

  /// - Parameters:
  ///   - protecting: the input files, by identity, with the path to name in errors.
  public init(path: String, replacingExisting: Bool, protecting inputs: [FileIdentity: String]) throws(FileAccessError)
  {
    guard !path.isEmpty else { throw .emptyPath }
    let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    var destination = trimmed
    if let status = FileStatus.of(trimmed) {
      guard FileStatus.isDirectory(status) else {
        throw .wrongKind(path: path, kind: FileAccessError.kindName(mode: status.st_mode), expected: "a folder")
      }
      if let resolved = realpath(trimmed, nil) {
        destination = String(cString: resolved)
        free(resolved)
      }
      let identity = FileIdentity(status)
      if let input = inputs[identity] { throw .outputIsInput(output: path, input: input) }
      for (inputIdentity, inputPath) in inputs
      where Self.folder(identity, holds: inputPath) || inputIdentity == identity {
        throw .outputContainsInput(output: path, input: inputPath)
      }
      let entries = (try? FileManager.default.contentsOfDirectory(atPath: destination)) ?? ["?"]
      if !entries.isEmpty {
        guard replacingExisting else { throw .outputExists(path: path) }
        try Self.checkPreviousOutput(destination, entries: entries, named: path)
      }
      destinationExists = true
    } else {
      guard errno == ENOENT else { throw .system(path, "write") }
      destinationExists = false
    }
    let parent = AtomicFileWriter.folder(of: destination)
    StaleTemporaries.sweep(parent)
    let name = String(
      destination[destination.index(after: destination.lastIndex(of: "/") ?? destination.startIndex)...])
    let staging =
      (parent == "." && !destination.hasPrefix("./") ? "" : parent + "/")
      + ".\(name).tmp-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    guard mkdir(staging, 0o777) == 0 else { throw .system(destination, "create a temporary folder for") }
    self.destination = destination
    self.path = staging
    slots.append(TemporaryFileRegistry.register(staging, isDirectory: true))
  }

  deinit { if !isPublished { discard() } }

  /// A writer for the file `name` inside the staging folder. The file it commits stays
  /// registered for removal on a signal until the folder is published.
  public func writer(for name: String) throws(FileAccessError) -> AtomicFileWriter {
    let writer = try AtomicFileWriter(path: path + "/" + name, replacingExisting: false)
    slots.append(TemporaryFileRegistry.register(writer.destination, isDirectory: false))
    written.append(name)
    return writer
  }

  /// Writes `data` as the file `name`.
  public func write(_ data: some ContiguousBytes, as name: String) throws(FileAccessError) {
    let writer = try writer(for: name)
    try writer.write(data)
    try writer.commit()
  }

  /// Writes the manifest and moves the staging folder to the destination (see the type). When
  /// an old folder was swapped out and cannot be removed, the new output is in place but the
  /// call throws, naming where the old one is: a failure is never reported as success.
  public func publish() throws(FileAccessError) {
    try write(Array(Self.manifest(written).utf8), as: Self.manifestName)
    AtomicFileWriter.syncFolder(path)
    if destinationExists, rename(path, destination) != 0 {
      guard errno == ENOTEMPTY || errno == EEXIST else { throw .system(destination, "replace") }
      guard Self.exchange(path, destination) else { throw .system(destination, "replace") }
      // The old folder now sits at the staging path.
      isPublished = true
      slots.forEach(TemporaryFileRegistry.unregister)
      AtomicFileWriter.syncFolder(AtomicFileWriter.folder(of: destination))
      do {
        try FileManager.default.removeItem(atPath: path)
      } catch {
        let reason = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError).map {
          FileAccessError.reason(Int32($0.code))
        }
        throw .failed(
          path: path,
          action: "remove the previous output (the new one is in place at '\(destination)'); remove by hand",
          reason: reason ?? "it could not be removed")
      }
      return
    } else if !destinationExists, rename(path, destination) != 0 {
      throw .system(destination, "create")
    }
    isPublished = true
    slots.forEach(TemporaryFileRegistry.unregister)
    AtomicFileWriter.syncFolder(AtomicFileWriter.folder(of: destination))
  }

  static func manifest(_ names: [String]) -> String {
    let quoted = names.filter { $0 != manifestName }.sorted().map { name -> String in
      let data =
        (try? JSONSerialization.data(withJSONObject: [name], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
      return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
    return "{\"written_by\": \"qlora-budget\", \"files\": [" + quoted.joined(separator: ", ") + "]}\n"
  }

  /// Refuses a non-empty `folder` that is not a previous output: no readable manifest, or an
  /// entry the manifest does not list.
  private static func checkPreviousOutput(_ folder: String, entries: [String], named path: String)
    throws(FileAccessError)
  {
    let others = entries.filter { $0 != manifestName }
    func found(_ names: [String]) -> String {
      let shown = names.sorted().prefix(3).map { "'\($0)'" }.joined(separator: ", ")
      return names.count > 3 ? "\(shown) and \(names.count - 3) more" : shown
    }
    guard entries.contains(manifestName) else {
      throw .notAPreviousOutput(path: path, found: "it holds " + found(others) + " and no \(manifestName)")
    }
    let listed: Set<String>
    do {
      let data = try ReadableFile.contents(
        of: folder + "/" + manifestName, limit: maximumManifestBytes, what: "an output manifest")
      guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
        let files = object["files"] as? [String]
      else {
        throw FileAccessError.notAPreviousOutput(path: path, found: "its \(manifestName) is not a manifest")
      }
      listed = Set(files)
    } catch let error as FileAccessError {
      throw error
    } catch {
      throw .notAPreviousOutput(path: path, found: "its \(manifestName) cannot be read")
    }
    let unlisted = others.filter { name in
      guard listed.contains(name), let status = FileStatus.ofLink(folder + "/" + name) else { return true }
      return !FileStatus.isRegular(status)
    }
    guard unlisted.isEmpty else {
      throw .notAPreviousOutput(path: path, found: "it holds " + found(unlisted) + ", which quantize did not write")
    }
  }

  /// Removes the staging folder and everything in it.
  public func discard() {
    try? FileManager.default.removeItem(atPath: path)
    slots.forEach(TemporaryFileRegistry.unregister)
    slots = []
  }

  /// Whether `inputPath` (links resolved) lies somewhere under the folder `identity`.
  private static func folder(_ identity: FileIdentity, holds inputPath: String) -> Bool {
    guard let resolved = realpath(inputPath, nil) else { return false }
    var current = String(cString: resolved)
    free(resolved)
    while current != "/" && !current.isEmpty {
      current = AtomicFileWriter.folder(of: current)
      if FileIdentity(path: current) == identity { return true }
    }
    return false
  }

  /// `renameat2(from, to, RENAME_EXCHANGE)`, looked up at run time (Glibc's Swift module does
  /// not export it).
  private static func exchange(_ from: String, _ to: String) -> Bool {
    typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    guard let symbol = dlsym(nil, "renameat2") else {
      errno = ENOSYS
      return false
    }
    let renameExchange: UInt32 = 2
    return unsafeBitCast(symbol, to: RenameAt2.self)(AT_FDCWD, from, AT_FDCWD, to, renameExchange) == 0
  }
}

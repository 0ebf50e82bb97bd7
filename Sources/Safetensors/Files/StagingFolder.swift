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
public final class StagingFolder {
  /// The folder the files land in after ``publish()`` (links resolved).
  public let destination: String
  /// Where they are written until then.
  public let path: String
  private var slots: [Int?] = []
  private var isPublished = false
  private let destinationExists: Bool

  /// - Parameters:
  ///   - protecting: the input files, by identity, with the path to name in errors.
  public init(path: String, replacingExisting: Bool, protecting inputs: [FileIdentity: String]) throws(FileAccessError) {
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
      for (inputIdentity, inputPath) in inputs where Self.folder(identity, holds: inputPath) || inputIdentity == identity {
        throw .outputContainsInput(output: path, input: inputPath)
      }
      let isEmpty = ((try? FileManager.default.contentsOfDirectory(atPath: destination)) ?? ["?"]).isEmpty
      guard isEmpty || replacingExisting else { throw .outputExists(path: path) }
      destinationExists = true
    } else {
      guard errno == ENOENT else { throw .system(path, "write") }
      destinationExists = false
    }
    let parent = AtomicFileWriter.folder(of: destination)
    let name = String(destination[destination.index(after: destination.lastIndex(of: "/") ?? destination.startIndex)...])
    let staging = (parent == "." && !destination.hasPrefix("./") ? "" : parent + "/")
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
    return writer
  }

  /// Writes `data` as the file `name`.
  public func write(_ data: some ContiguousBytes, as name: String) throws(FileAccessError) {
    let writer = try writer(for: name)
    try writer.write(data)
    try writer.commit()
  }

  /// Moves the staging folder to the destination (see the type).
  public func publish() throws(FileAccessError) {
    AtomicFileWriter.syncFolder(path)
    if destinationExists, rename(path, destination) != 0 {
      guard errno == ENOTEMPTY || errno == EEXIST else { throw .system(destination, "replace") }
      guard Self.exchange(path, destination) else { throw .system(destination, "replace") }
      // The old folder now sits at the staging path.
      try? FileManager.default.removeItem(atPath: path)
    } else if !destinationExists, rename(path, destination) != 0 {
      throw .system(destination, "create")
    }
    isPublished = true
    slots.forEach(TemporaryFileRegistry.unregister)
    AtomicFileWriter.syncFolder(AtomicFileWriter.folder(of: destination))
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

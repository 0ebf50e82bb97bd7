import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes a file so that it cannot be lost or half-written: every file the tool writes goes
/// through here.
///
/// The data goes to a new temporary file (`.<name>.tmp-<pid>-<random>`, created with
/// `O_EXCL`) in the destination's folder; ``commit()`` flushes it with `fsync`, renames it over
/// the destination (atomic within one file system) and syncs the folder. Until then the
/// destination is untouched: a failure, a full disk, a file-size limit or SIGINT/SIGTERM
/// (``TemporaryFileRegistry``) removes the temporary and leaves the previous file as it was.
///
/// Before anything is created, the destination is checked: links are resolved and the file
/// they lead to is the one replaced (a symbolic link is never replaced by a regular file); a
/// FIFO, device, socket or folder is refused; an existing file is refused unless
/// `replacingExisting`; a destination that is one of `protecting` (by device and inode) is
/// refused even then. A replaced file keeps its permission bits. Temporaries of dead processes
/// in the folder are removed first (``StaleTemporaries``).
public final class AtomicFileWriter {
  /// The path the data lands at after ``commit()`` (links resolved).
  public let destination: String
  /// Where the data is written until then.
  public let temporaryPath: String
  /// Bytes written so far by ``write(_:)`` (the next sequential offset).
  public private(set) var position: Int64 = 0
  private let descriptor: Int32
  private let slot: Int?
  private var isOpen = true

  /// Checks `path` and creates the temporary file beside it.
  ///
  /// - Parameters:
  ///   - protecting: the inputs of the command, by identity, with the path to name in errors.
  public init(
    path: String, replacingExisting: Bool, protecting inputs: [FileIdentity: String] = [:]
  ) throws(FileAccessError) {
    let (destination, mode) = try Self.resolvedDestination(path, replacingExisting: replacingExisting, inputs: inputs)
    let folder = Self.folder(of: destination)
    guard let folderStatus = FileStatus.of(folder) else { throw .system(folder, "write into the folder") }
    guard FileStatus.isDirectory(folderStatus) else {
      throw .wrongKind(path: folder, kind: FileAccessError.kindName(mode: folderStatus.st_mode), expected: "a folder")
    }
    StaleTemporaries.sweep(folder)
    let name = String(
      destination[destination.index(after: destination.lastIndex(of: "/") ?? destination.startIndex)...])
    let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    let temporaryPath =
      "\(folder == "." && !destination.hasPrefix("./") ? "" : folder + "/").\(name).tmp-\(getpid())-\(suffix)"
    let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
    guard descriptor >= 0 else { throw .system(destination, "create a temporary file for") }
    if let mode { fchmod(descriptor, mode) }
    self.destination = destination
    self.temporaryPath = temporaryPath
    self.descriptor = descriptor
    slot = TemporaryFileRegistry.register(temporaryPath, isDirectory: false)
  }

  deinit { discard() }

  /// Appends `bytes` at ``position``.
  public func write(_ bytes: UnsafeRawBufferPointer) throws(FileAccessError) {
    try write(bytes, at: position)
    position += Int64(bytes.count)
  }

  /// Appends `bytes` at ``position``.
  public func write(_ bytes: some ContiguousBytes) throws(FileAccessError) {
    var failure: FileAccessError?
    bytes.withUnsafeBytes { buffer in
      do throws(FileAccessError) { try write(buffer) } catch { failure = error }
    }
    if let failure { throw failure }
  }

  /// Moves ``position`` to `offset`, leaving the bytes before it to be written later with
  /// ``write(_:at:)`` (a header written last).
  public func skip(to offset: Int64) {
    position = offset
  }

  /// Writes `bytes` at `offset` without moving ``position``.
  public func write(_ bytes: [UInt8], at offset: Int64) throws(FileAccessError) {
    var failure: FileAccessError?
    bytes.withUnsafeBytes { buffer in
      do throws(FileAccessError) { try write(buffer, at: offset) } catch { failure = error }
    }
    if let failure { throw failure }
  }

  /// Writes `bytes` at `offset` without moving ``position`` (for a header written last).
  public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(FileAccessError) {
    var done = 0
    while done < bytes.count {
      let result = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
      if result < 0 {
        if errno == EINTR { continue }
        throw .system(destination, "write")
      }
      done += result
    }
  }

  /// Flushes the data to disk and renames the temporary file over the destination.
  public func commit() throws(FileAccessError) {
    guard isOpen else { throw .failed(path: destination, action: "write", reason: "the file was already closed") }
    guard fsync(descriptor) == 0 else { throw .system(destination, "write") }
    isOpen = false
    guard close(descriptor) == 0 else {
      try? Self.remove(temporaryPath, slot)
      throw .system(destination, "write")
    }
    guard rename(temporaryPath, destination) == 0 else {
      let error = FileAccessError.system(destination, "replace")
      try? Self.remove(temporaryPath, slot)
      throw error
    }
    TemporaryFileRegistry.unregister(slot)
    Self.syncFolder(Self.folder(of: destination))
  }

  /// Closes and removes the temporary file; the destination stays as it was.
  public func discard() {
    guard isOpen else { return }
    isOpen = false
    close(descriptor)
    try? Self.remove(temporaryPath, slot)
  }

  /// Writes `data` to `path` in one go (see the type).
  public static func write(
    _ data: some ContiguousBytes, to path: String, replacingExisting: Bool,
    protecting inputs: [FileIdentity: String] = [:]
  ) throws(FileAccessError) {
    let writer = try AtomicFileWriter(path: path, replacingExisting: replacingExisting, protecting: inputs)
    try writer.write(data)
    try writer.commit()
  }

  // MARK: - Checks

  /// The file to replace (links resolved) and, if it exists, its permission bits.
  static func resolvedDestination(
    _ path: String, replacingExisting: Bool, inputs: [FileIdentity: String]
  ) throws(FileAccessError) -> (String, mode_t?) {
    guard !path.isEmpty else { throw .emptyPath }
    guard let link = FileStatus.ofLink(path) else {
      guard errno == ENOENT else { throw .system(path, "write") }
      return (path, nil)
    }
    var target = path
    if link.st_mode & S_IFMT == S_IFLNK {
      guard let resolved = realpath(path, nil) else {
        throw .failed(path: path, action: "write through the link", reason: FileAccessError.reason(errno))
      }
      target = String(cString: resolved)
      free(resolved)
    }
    guard let status = FileStatus.of(target) else { throw .system(path, "write") }
    guard FileStatus.isRegular(status) else {
      throw .wrongKind(
        path: path, kind: FileAccessError.kindName(mode: status.st_mode), expected: "a regular file to replace")
    }
    if let input = inputs[FileIdentity(status)] { throw .outputIsInput(output: path, input: input) }
    guard replacingExisting else { throw .outputExists(path: path) }
    return (target, status.st_mode & 0o7777)
  }

  static func folder(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
  }

  /// fsync of a folder, so a rename in it survives a crash (best effort: some file systems refuse).
  static func syncFolder(_ folder: String) {
    let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    fsync(descriptor)
    close(descriptor)
  }

  private static func remove(_ path: String, _ slot: Int?) throws {
    unlink(path)
    TemporaryFileRegistry.unregister(slot)
  }
}

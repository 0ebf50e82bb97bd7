import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A regular file opened for reading by offset (`pread`), never anything else.
///
/// The file is opened with `O_NONBLOCK`, so a FIFO cannot block the open, and checked with
/// `fstat` on the open descriptor (no race with a rename): a FIFO, device, socket or folder is
/// refused with ``FileAccessError/wrongKind(path:kind:expected:)``. Every failure carries the
/// system's reason in words.
public final class ReadableFile: @unchecked Sendable {
  public let path: String
  /// The size when opened.
  public let size: Int64
  public let identity: FileIdentity
  private let descriptor: Int32

  /// Opens `path`, which must be a regular file (links are followed).
  public init(path: String) throws(FileAccessError) {
    guard !path.isEmpty else { throw .emptyPath }
    let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard descriptor >= 0 else { throw .system(path, "open") }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
      let error = FileAccessError.system(path, "open")
      close(descriptor)
      throw error
    }
    guard FileStatus.isRegular(status) else {
      close(descriptor)
      throw .wrongKind(path: path, kind: FileAccessError.kindName(mode: status.st_mode), expected: "a regular file")
    }
    self.path = path
    self.descriptor = descriptor
    size = Int64(status.st_size)
    identity = FileIdentity(status)
    OpenedFiles.record(identity, path: path)
  }

  deinit { close(descriptor) }

  /// Reads up to `buffer.count` bytes at `offset`; returns how many were read (fewer only at
  /// the end of the file).
  public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(FileAccessError) -> Int {
    var done = 0
    while done < buffer.count {
      let result = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
      if result < 0 {
        if errno == EINTR { continue }
        throw .system(path, "read")
      }
      if result == 0 { break }
      done += result
    }
    return done
  }

  /// `count` bytes at `offset` (fewer at the end of the file). Allocates exactly `count` bytes:
  /// callers check `count` against the file and their limits first.
  public func read(count: Int, at offset: Int64) throws(FileAccessError) -> Data {
    guard count > 0 else { return Data() }
    var data = Data(count: count)
    var result: Result<Int, FileAccessError> = .success(0)
    data.withUnsafeMutableBytes { buffer in
      result = Result { () throws(FileAccessError) in try self.read(into: buffer, at: offset) }
    }
    let read = try result.get()
    if read < count { data.removeSubrange(read...) }
    return data
  }

  /// The whole content of a small regular file: at most `limit` bytes, else
  /// ``FileAccessError/tooLarge(path:size:limit:what:)``. The one bounded reader for every
  /// small file the tool reads: a FIFO or device is refused at open; a size over the limit is
  /// refused before reading; and since files under /proc report 0, the read itself stops after
  /// `limit + 1` bytes, so never more than that is held.
  public static func contents(of path: String, limit: Int64, what: String) throws(FileAccessError) -> Data {
    let file = try ReadableFile(path: path)
    guard file.size <= limit else { throw .tooLarge(path: path, size: file.size, limit: limit, what: what) }
    var data = Data()
    var offset: Int64 = 0
    while true {
      let wanted = Int(min(limit + 1 - offset, 1 << 20))
      let piece = try file.read(count: wanted, at: offset)
      data.append(piece)
      offset += Int64(piece.count)
      guard offset <= limit else { throw .tooLarge(path: path, size: offset, limit: limit, what: what) }
      if piece.count < wanted { return data }
    }
  }
}

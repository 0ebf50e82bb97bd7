import FileSafety
import Foundation

/// A safetensors file opened for reading: the header is parsed and validated up front, tensor
/// data is read on demand, one tensor at a time, by offset (the file is never loaded whole).
///
/// Only a regular file is opened (``ReadableFile``: a FIFO, device or folder is refused without
/// blocking). Nothing larger than the file is ever allocated: the header length is checked
/// against the file size (and the format's 100 MB limit) before the header is read, and each
/// tensor's byte count is checked against its offsets and the data section when the header is
/// parsed. Memory: the header's entries, plus one tensor's bytes while it is read.
///
///     let file = try SafetensorsFile(url: url)
///     for info in file.header.tensors { let bytes = try file.data(for: info) }
public final class SafetensorsFile: @unchecked Sendable {
  public let url: URL
  public let header: SafetensorsHeader
  /// The file's size in bytes when it was opened.
  public let fileSize: Int64
  /// The file's device and inode.
  public var identity: FileIdentity { file.identity }
  private let file: ReadableFile

  /// Opens and validates `url`.
  ///
  /// - Throws: ``SafetensorsError`` for an unreadable file or an invalid header.
  public init(url: URL) throws(SafetensorsError) {
    self.url = url
    do {
      file = try ReadableFile(path: url.path)
    } catch {
      throw .file(error)
    }
    fileSize = file.size
    let prefix = try Self.bytes(file, count: min(8, Int(max(fileSize, 0))), at: 0)
    let length = try SafetensorsHeader.validatedHeaderLength(prefix, fileSize: fileSize)
    let json = try Self.bytes(file, count: length, at: 8)
    guard json.count == length else { throw .fileTooSmall(size: fileSize) }
    header = try SafetensorsHeader(json: json, fileSize: fileSize)
  }

  /// The entry named `name`.
  ///
  /// - Throws: ``SafetensorsError/unknownTensor(_:)``.
  public func tensor(named name: String) throws(SafetensorsError) -> SafetensorsTensorInfo {
    guard let info = header.tensor(named: name) else { throw .unknownTensor(name) }
    return info
  }

  /// The raw little-endian bytes of one tensor of this file.
  ///
  /// - Throws: ``SafetensorsError/unknownTensor(_:)`` for an entry that is not this file's,
  ///   ``SafetensorsError/truncated(tensor:expectedBytes:readBytes:)`` if the file shrank since
  ///   it was opened, or an I/O error.
  public func data(for info: SafetensorsTensorInfo) throws(SafetensorsError) -> Data {
    guard header.tensor(named: info.name) == info else { throw .unknownTensor(info.name) }
    let data = try Self.read(file, count: Int(info.byteCount), at: header.dataStart + info.dataOffsets.lowerBound)
    guard Int64(data.count) == info.byteCount else {
      throw .truncated(tensor: info.name, expectedBytes: info.byteCount, readBytes: Int64(data.count))
    }
    return data
  }

  /// `count` bytes of one tensor of this file, from `offset` within it (to stream a large
  /// tensor in pieces).
  public func data(for info: SafetensorsTensorInfo, offset: Int64, count: Int) throws(SafetensorsError) -> Data {
    guard header.tensor(named: info.name) == info else { throw .unknownTensor(info.name) }
    guard offset >= 0, count >= 0, offset <= info.byteCount, Int64(count) <= info.byteCount - offset else {
      throw .truncated(tensor: info.name, expectedBytes: info.byteCount, readBytes: offset)
    }
    let data = try Self.read(file, count: count, at: header.dataStart + info.dataOffsets.lowerBound + offset)
    guard data.count == count else {
      throw .truncated(tensor: info.name, expectedBytes: info.byteCount, readBytes: offset + Int64(data.count))
    }
    return data
  }

  /// Reads `buffer.count` bytes of one tensor, from `offset` within it, into `buffer`: the
  /// caller's memory, so a large tensor can be read in pieces into buffers that are reused.
  ///
  /// - Throws: ``SafetensorsError/unknownTensor(_:)``,
  ///   ``SafetensorsError/truncated(tensor:expectedBytes:readBytes:)`` for a range outside the
  ///   tensor or a file that shrank since it was opened, or an I/O error.
  public func read(_ info: SafetensorsTensorInfo, offset: Int64, into buffer: UnsafeMutableRawBufferPointer)
    throws(SafetensorsError)
  {
    guard header.tensor(named: info.name) == info else { throw .unknownTensor(info.name) }
    let count = Int64(buffer.count)
    guard offset >= 0, offset <= info.byteCount, count <= info.byteCount - offset else {
      throw .truncated(tensor: info.name, expectedBytes: info.byteCount, readBytes: offset)
    }
    let read: Int
    do {
      read = try file.read(into: buffer, at: header.dataStart + info.dataOffsets.lowerBound + offset)
    } catch {
      throw .file(error)
    }
    guard read == buffer.count else {
      throw .truncated(tensor: info.name, expectedBytes: info.byteCount, readBytes: offset + Int64(read))
    }
  }

  /// The raw bytes of the tensor named `name`.
  public func data(named name: String) throws(SafetensorsError) -> Data {
    try data(for: tensor(named: name))
  }

  /// `count` bytes at `offset` (fewer at the end of the file), read straight into the array:
  /// a header of 100 MB is not read into a `Data` and copied again.
  private static func bytes(_ file: ReadableFile, count: Int, at offset: Int64) throws(SafetensorsError) -> [UInt8] {
    var failure: FileAccessError?
    let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
      do throws(FileAccessError) {
        initialized = try file.read(into: UnsafeMutableRawBufferPointer(buffer), at: offset)
      } catch {
        failure = error
        initialized = 0
      }
    }
    if let failure { throw .file(failure) }
    return bytes
  }

  private static func read(_ file: ReadableFile, count: Int, at offset: Int64) throws(SafetensorsError) -> Data {
    do {
      return try file.read(count: count, at: offset)
    } catch {
      throw .file(error)
    }
  }
}

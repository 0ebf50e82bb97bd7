import Foundation

/// A safetensors file opened for reading: the header is parsed and validated up front, tensor
/// data is read on demand, one tensor at a time, by offset (the file is never loaded whole).
///
/// Nothing larger than the file is ever allocated: the header length is checked against the
/// file size (and the format's 100 MB limit) before the header is read, and each tensor's byte
/// count is checked against its offsets and the data section when the header is parsed.
///
///     let file = try SafetensorsFile(url: url)
///     for info in file.header.tensors { let bytes = try file.data(for: info) }
public final class SafetensorsFile {
  public let url: URL
  public let header: SafetensorsHeader
  /// The file's size in bytes when it was opened.
  public let fileSize: Int64
  private let handle: FileHandle

  /// Opens and validates `url`.
  ///
  /// - Throws: ``SafetensorsError`` for an unreadable file or an invalid header.
  public init(url: URL) throws(SafetensorsError) {
    self.url = url
    do {
      handle = try FileHandle(forReadingFrom: url)
      fileSize = Int64(try handle.seekToEnd())
      try handle.seek(toOffset: 0)
      let prefix = [UInt8](try handle.read(upToCount: 8) ?? Data())
      let length = try SafetensorsHeader.validatedHeaderLength(prefix, fileSize: fileSize)
      let json = [UInt8](try handle.read(upToCount: length) ?? Data())
      guard json.count == length else { throw SafetensorsError.fileTooSmall(size: fileSize) }
      header = try SafetensorsHeader(json: json, fileSize: fileSize)
    } catch let error as SafetensorsError {
      throw error
    } catch {
      throw .io(path: url.path, reason: "\(error.localizedDescription)")
    }
  }

  deinit { try? handle.close() }

  /// The entry named `name`.
  ///
  /// - Throws: ``SafetensorsError/unknownTensor(_:)``.
  public func tensor(named name: String) throws(SafetensorsError) -> SafetensorsTensorInfo {
    guard let info = header.tensor(named: name) else { throw .unknownTensor(name) }
    return info
  }

  /// The raw little-endian bytes of one tensor.
  ///
  /// - Throws: ``SafetensorsError/truncated(tensor:expectedBytes:readBytes:)`` if the file
  ///   shrank since it was opened, or an I/O error.
  public func data(for info: SafetensorsTensorInfo) throws(SafetensorsError) -> Data {
    do {
      try handle.seek(toOffset: UInt64(header.dataStart + info.dataOffsets.lowerBound))
      let data = info.byteCount == 0 ? Data() : try handle.read(upToCount: Int(info.byteCount)) ?? Data()
      guard Int64(data.count) == info.byteCount else {
        throw SafetensorsError.truncated(tensor: info.name, expectedBytes: info.byteCount, readBytes: Int64(data.count))
      }
      return data
    } catch let error as SafetensorsError {
      throw error
    } catch {
      throw .io(path: url.path, reason: "\(error.localizedDescription)")
    }
  }

  /// The raw bytes of the tensor named `name`.
  public func data(named name: String) throws(SafetensorsError) -> Data {
    try data(for: tensor(named: name))
  }
}

import Foundation

/// The name, dtype and shape of a tensor to write.
public struct SafetensorsTensorSpec: Hashable, Sendable {
  public let name: String
  public let dtype: SafetensorsDType
  public let shape: [Int64]

  public init(name: String, dtype: SafetensorsDType, shape: [Int64]) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
  }

  /// `product(shape) * size(dtype)`, or nil on overflow or a negative dimension.
  public var byteCount: Int64? {
    var bytes = dtype.byteSize
    for dimension in shape {
      guard dimension >= 0 else { return nil }
      let (product, overflow) = bytes.multipliedReportingOverflow(by: dimension)
      if overflow { return nil }
      bytes = product
    }
    return bytes
  }
}

/// Writes a safetensors file tensor by tensor, so only one tensor's bytes need be in memory.
///
/// The header (all names, dtypes, shapes and offsets) is written first, from the specs given
/// up front; then ``write(_:bytes:)`` must be called once per tensor in that order, and
/// ``finish()`` checks that every tensor was written. Data offsets are assigned in order with
/// no gaps; the header is padded with spaces to a multiple of 8 bytes, as huggingface's writer
/// does, so the data section is 8-byte aligned.
public final class SafetensorsWriter {
  public let url: URL
  private let specs: [SafetensorsTensorSpec]
  private var next = 0
  private let handle: FileHandle

  /// Creates (or replaces) `url` and writes the header.
  ///
  /// - Throws: ``SafetensorsError`` for a duplicate name, an overflowing shape, or an I/O error.
  public init(url: URL, tensors: [SafetensorsTensorSpec], metadata: [String: String] = [:]) throws(SafetensorsError) {
    self.url = url
    specs = tensors
    var seen = Set<String>()
    var entries: [String] = []
    if !metadata.isEmpty {
      let fields = metadata.sorted { $0.key < $1.key }.map { "\(Self.quoted($0.key)):\(Self.quoted($0.value))" }
      entries.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
    }
    var offset: Int64 = 0
    for spec in tensors {
      guard seen.insert(spec.name).inserted else { throw .duplicateTensor(spec.name) }
      guard let bytes = spec.byteCount, case (let end, false) = offset.addingReportingOverflow(bytes) else {
        throw .sizeOverflow(tensor: spec.name, shape: spec.shape)
      }
      let shape = spec.shape.map(String.init).joined(separator: ",")
      entries.append("\(Self.quoted(spec.name)):{\"dtype\":\"\(spec.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
      offset = end
    }
    var json = Array("{\(entries.joined(separator: ","))}".utf8)
    json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
    let length = UInt64(json.count)
    let prefix = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
    do {
      guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
        throw SafetensorsError.io(path: url.path, reason: "cannot create the file")
      }
      handle = try FileHandle(forWritingTo: url)
      try handle.write(contentsOf: prefix + json)
    } catch let error as SafetensorsError {
      throw error
    } catch {
      throw .io(path: url.path, reason: error.localizedDescription)
    }
  }

  private var isClosed = false

  deinit { if !isClosed { try? handle.close() } }

  /// Writes the data of the next tensor, `bytes` little-endian.
  ///
  /// - Throws: ``SafetensorsError/outOfOrderWrite(expected:actual:)`` or
  ///   ``SafetensorsError/byteCountMismatch(tensor:expected:actual:)``.
  public func write(_ name: String, bytes: some DataProtocol) throws(SafetensorsError) {
    guard next < specs.count else { throw .unknownTensor(name) }
    let spec = specs[next]
    guard spec.name == name else { throw .outOfOrderWrite(expected: spec.name, actual: name) }
    guard Int64(bytes.count) == spec.byteCount else {
      throw .byteCountMismatch(tensor: name, expected: spec.byteCount ?? -1, actual: Int64(bytes.count))
    }
    do {
      try handle.write(contentsOf: bytes)
    } catch {
      throw .io(path: url.path, reason: error.localizedDescription)
    }
    next += 1
  }

  /// Checks every tensor was written and closes the file.
  public func finish() throws(SafetensorsError) {
    guard next == specs.count else { throw .missingTensorData(specs[next...].map(\.name)) }
    do {
      try handle.synchronize()
      isClosed = true
      try handle.close()
    } catch {
      throw .io(path: url.path, reason: error.localizedDescription)
    }
  }

  /// `text` as a JSON string literal (quotes, backslashes and control characters escaped).
  public static func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": result += "\\\""
      case "\\": result += "\\\\"
      case "\n": result += "\\n"
      case "\r": result += "\\r"
      case "\t": result += "\\t"
      case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
      default: result.unicodeScalars.append(scalar)
      }
    }
    return result + "\""
  }
}

import Foundation

/// One tensor entry of a safetensors header.
public struct SafetensorsTensorInfo: Hashable, Sendable {
  public let name: String
  public let dtype: SafetensorsDType
  public let shape: [Int64]
  /// Byte range relative to the start of the data section (`data_offsets`).
  public let dataOffsets: Range<Int64>

  public init(name: String, dtype: SafetensorsDType, shape: [Int64], dataOffsets: Range<Int64>) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.dataOffsets = dataOffsets
  }

  /// The product of the dimensions (1 for a scalar).
  public var elementCount: Int64 { shape.reduce(1, *) }
  /// The bytes of the tensor's data.
  public var byteCount: Int64 { dataOffsets.upperBound - dataOffsets.lowerBound }
}

/// The parsed and validated header of a safetensors file.
///
/// Layout of the file: an unsigned 64-bit little-endian length `N`, `N` bytes of UTF-8 JSON
/// (an object: tensor name -> `{"dtype", "shape", "data_offsets": [begin, end]}`, plus an
/// optional `"__metadata__"` object of strings), then the data section; offsets are relative
/// to its start (byte `8 + N` of the file). Source: huggingface/safetensors README.
public struct SafetensorsHeader: Hashable, Sendable {
  /// The format's limit on the header length (huggingface/safetensors `MAX_HEADER_SIZE`).
  public static let maximumHeaderLength: UInt64 = 100_000_000

  /// Tensors in the order of their data.
  public let tensors: [SafetensorsTensorInfo]
  /// The `__metadata__` strings.
  public let metadata: [String: String]
  /// The file offset of the data section: 8 + header length.
  public let dataStart: Int64

  /// The entry named `name`, if any.
  public func tensor(named name: String) -> SafetensorsTensorInfo? {
    tensors.first { $0.name == name }
  }

  /// Validates the header length against the file size before anything is allocated.
  ///
  /// - Returns: the header length in bytes.
  public static func validatedHeaderLength(_ prefix: [UInt8], fileSize: Int64) throws(SafetensorsError) -> Int {
    guard fileSize >= 8, prefix.count >= 8 else { throw .fileTooSmall(size: fileSize) }
    let length = prefix.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
    guard length <= maximumHeaderLength else { throw .headerTooLarge(length: length) }
    guard length <= UInt64(fileSize - 8) else { throw .headerLengthBeyondFile(length: length, fileSize: fileSize) }
    return Int(length)
  }

  /// Parses and validates the JSON header of a file of `fileSize` bytes.
  ///
  /// Checks, in order: UTF-8, a JSON object, every entry's dtype, shape (non-negative integers)
  /// and offsets (`begin <= end`), the byte count `product(shape) * size(dtype)` in checked
  /// Int64 arithmetic, offsets spanning exactly that count and lying inside the data section,
  /// and no two tensors overlapping.
  public init(json: [UInt8], fileSize: Int64) throws(SafetensorsError) {
    guard String(validating: json, as: UTF8.self) != nil else { throw .headerNotUTF8 }
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: Data(json))
    } catch {
      throw .headerNotJSON(reason: "\(error)".split(separator: "\n").first.map(String.init) ?? "invalid JSON")
    }
    guard let entries = object as? [String: Any] else { throw .headerNotJSON(reason: "the top level is not an object") }
    dataStart = 8 + Int64(json.count)
    let dataSize = fileSize - dataStart
    var metadata: [String: String] = [:]
    var tensors: [SafetensorsTensorInfo] = []
    for (name, value) in entries {
      if name == "__metadata__" {
        guard let fields = value as? [String: Any] else { throw .invalidMetadata(key: "__metadata__") }
        for (key, field) in fields {
          guard let text = field as? String else { throw .invalidMetadata(key: key) }
          metadata[key] = text
        }
        continue
      }
      tensors.append(try Self.entry(name: name, value: value, dataSize: dataSize))
    }
    tensors.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name) }
    for (previous, next) in zip(tensors, tensors.dropFirst())
    where next.dataOffsets.lowerBound < previous.dataOffsets.upperBound {
      throw .overlappingTensors(previous.name, next.name)
    }
    self.tensors = tensors
    self.metadata = metadata
  }

  private static func entry(name: String, value: Any, dataSize: Int64) throws(SafetensorsError) -> SafetensorsTensorInfo {
    guard let fields = value as? [String: Any] else {
      throw .invalidField(tensor: name, field: "entry", value: "'\(value)'")
    }
    guard let dtypeName = fields["dtype"] as? String else {
      throw .invalidField(tensor: name, field: "dtype", value: "'\(fields["dtype"] ?? "missing")'")
    }
    guard let dtype = SafetensorsDType(rawValue: dtypeName) else { throw .unknownDType(tensor: name, dtype: dtypeName) }
    let shape = try integers(fields["shape"], tensor: name, field: "shape")
    let offsets = try integers(fields["data_offsets"], tensor: name, field: "data_offsets")
    guard offsets.count == 2, offsets[0] <= offsets[1] else {
      throw .invalidField(tensor: name, field: "data_offsets", value: "\(offsets)")
    }
    var bytes = dtype.byteSize
    for dimension in shape {
      let (product, overflow) = bytes.multipliedReportingOverflow(by: dimension)
      guard !overflow else { throw .sizeOverflow(tensor: name, shape: shape) }
      bytes = product
    }
    guard offsets[1] - offsets[0] == bytes else {
      throw .offsetsMismatchShape(tensor: name, offsets: offsets, expectedBytes: bytes)
    }
    guard offsets[1] <= dataSize else { throw .offsetsOutOfRange(tensor: name, end: offsets[1], dataSize: dataSize) }
    return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: offsets[0]..<offsets[1])
  }

  /// A JSON array of non-negative integers.
  private static func integers(_ value: Any?, tensor: String, field: String) throws(SafetensorsError) -> [Int64] {
    guard let array = value as? [Any] else {
      throw .invalidField(tensor: tensor, field: field, value: "'\(value ?? "missing")'")
    }
    var result: [Int64] = []
    for element in array {
      // An integer literal reads back as the same digits; 1.5, 1e3, true and 2^64 do not.
      guard let number = element as? NSNumber, case let integer = number.int64Value,
        integer >= 0, "\(number)" == "\(integer)"
      else { throw .invalidField(tensor: tensor, field: field, value: "\(array)") }
      result.append(integer)
    }
    return result
  }
}

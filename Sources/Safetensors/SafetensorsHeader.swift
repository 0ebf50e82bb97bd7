import Foundation

/// One tensor entry of a safetensors header, validated on construction.
public struct SafetensorsTensorInfo: Hashable, Sendable {
  public let name: String
  public let dtype: SafetensorsDType
  public let shape: [Int64]
  /// Byte range relative to the start of the data section (`data_offsets`).
  public let dataOffsets: Range<Int64>
  /// The product of the dimensions (1 for a scalar).
  public let elementCount: Int64

  /// An entry whose dimensions are non-negative, whose element and byte counts fit in Int64
  /// and whose offsets are non-negative (a header also checks that the offsets span exactly
  /// the bytes the shape needs; a bare entry need not, so tests can describe shapes alone).
  ///
  /// - Throws: ``SafetensorsError/invalidField(tensor:field:value:)`` or
  ///   ``SafetensorsError/sizeOverflow(tensor:shape:)``.
  public init(name: String, dtype: SafetensorsDType, shape: [Int64], dataOffsets: Range<Int64>) throws(SafetensorsError)
  {
    guard shape.allSatisfy({ $0 >= 0 }) else { throw .invalidField(tensor: name, field: "shape", value: "\(shape)") }
    guard dataOffsets.lowerBound >= 0 else {
      throw .invalidField(
        tensor: name, field: "data_offsets", value: "[\(dataOffsets.lowerBound), \(dataOffsets.upperBound)]")
    }
    guard let elements = Self.checkedProduct(shape, startingAt: 1),
      elements.multipliedReportingOverflow(by: dtype.byteSize).overflow == false
    else { throw .sizeOverflow(tensor: name, shape: shape) }
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.dataOffsets = dataOffsets
    self.elementCount = elements
  }

  /// The bytes of the tensor's data.
  public var byteCount: Int64 { dataOffsets.upperBound - dataOffsets.lowerBound }

  /// The order of a header's tensors: by offsets, then by name (compared only when the offsets
  /// tie, without building a tuple that holds the names).
  @inline(__always)
  static func precedesInDataOrder(_ a: SafetensorsTensorInfo, _ b: SafetensorsTensorInfo) -> Bool {
    if a.dataOffsets.lowerBound != b.dataOffsets.lowerBound {
      return a.dataOffsets.lowerBound < b.dataOffsets.lowerBound
    }
    if a.dataOffsets.upperBound != b.dataOffsets.upperBound {
      return a.dataOffsets.upperBound < b.dataOffsets.upperBound
    }
    return a.name < b.name
  }

  /// `start * product(shape)` in checked arithmetic; a zero dimension makes it 0 whatever the
  /// others are (no overflow on the way).
  static func checkedProduct(_ shape: [Int64], startingAt start: Int64) -> Int64? {
    if shape.contains(0) { return 0 }
    var product = start
    for dimension in shape {
      let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
      guard !overflow else { return nil }
      product = next
    }
    return product
  }
}

/// The parsed and validated header of a safetensors file.
///
/// Layout of the file: an unsigned 64-bit little-endian length `N`, `N` bytes of UTF-8 JSON
/// (an object: tensor name -> `{"dtype", "shape", "data_offsets": [begin, end]}`, plus an
/// optional `"__metadata__"` object of strings), then the data section; offsets are relative
/// to its start (byte `8 + N` of the file). Source: huggingface/safetensors README.
///
/// Bounds: the header is at most ``maximumHeaderLength`` bytes (the format's own limit) and
/// lists at most ``maximumTensorCount`` tensors; parsing holds the header bytes and about
/// 150 bytes per tensor, nothing more.
public struct SafetensorsHeader: Hashable, Sendable {
  /// The format's limit on the header length (huggingface/safetensors `MAX_HEADER_SIZE`).
  public static let maximumHeaderLength: UInt64 = 100_000_000
  /// The most tensors one file may list. A real 4-bit MoE checkpoint has about 18,000 per
  /// model (bitsandbytes stores 4 to 6 entries per weight); a million leaves a wide margin
  /// and bounds the parsed entries to about 150 MB.
  public static let maximumTensorCount = 1_000_000

  /// Tensors in the order of their data.
  public let tensors: [SafetensorsTensorInfo]
  /// The `__metadata__` strings.
  public let metadata: [String: String]
  /// The file offset of the data section: 8 + header length.
  public let dataStart: Int64
  /// Position in ``tensors`` by name.
  private let positions: [String: Int]

  /// The entry named `name`, if any (constant time).
  public func tensor(named name: String) -> SafetensorsTensorInfo? {
    positions[name].map { tensors[$0] }
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
  /// Checks: UTF-8, a JSON object, at most ``maximumTensorCount`` tensors, every entry's dtype, shape (non-negative integers written
  /// as plain digits) and offsets (`begin <= end`), the byte count
  /// `product(shape) * size(dtype)` in checked Int64 arithmetic, offsets spanning exactly that
  /// count and lying inside the data section, no two tensors overlapping, and no tensor named
  /// twice (JSON readers would silently keep the last).
  public init(json: [UInt8], fileSize: Int64) throws(SafetensorsError) {
    guard json.count <= Self.maximumHeaderLength else { throw .headerTooLarge(length: UInt64(json.count)) }
    // ASCII (the usual header) is valid UTF-8 without building a copy of it as a String.
    guard json.allSatisfy({ $0 < 0x80 }) || String(validating: json, as: UTF8.self) != nil else { throw .headerNotUTF8 }
    dataStart = 8 + Int64(json.count)
    let dataSize = fileSize - dataStart
    var metadata: [String: String] = [:]
    var tensors: [SafetensorsTensorInfo] = []
    var hasMetadata = false
    var result: Result<Void, SafetensorsError> = .success(())
    json.withUnsafeBufferPointer { bytes in
      result = Result { () throws(SafetensorsError) in
        var scanner = HeaderScanner(bytes)
        guard scanner.peek() == UInt8(ascii: "{") else {
          throw .headerNotJSON(reason: "the top level is not an object")
        }
        try scanner.object { (scanner, name) throws(SafetensorsError) in
          if name == "__metadata__" {
            guard !hasMetadata else { throw .duplicateTensor(name) }
            hasMetadata = true
            metadata = try Self.metadata(&scanner)
          } else {
            guard tensors.count < Self.maximumTensorCount else { throw .tooManyTensors(limit: Self.maximumTensorCount) }
            tensors.append(try Self.entry(name: name, scanner: &scanner, dataSize: dataSize))
          }
        }
        guard scanner.peek() == nil else { throw scanner.failure("unexpected text after the object") }
      }
    }
    try result.get()
    // Writers list tensors in data order, so usually one pass finds nothing to sort.
    // A closure literal, not the function itself: only a literal lets the compiler specialize
    // the sort to it (passing the function retained and released both entries on every
    // comparison: a quarter more CPU for a million tensors at one offset).
    if !tensors.isSortedByDataOrder { tensors.sort { SafetensorsTensorInfo.precedesInDataOrder($0, $1) } }
    var positions: [String: Int] = [:]
    positions.reserveCapacity(tensors.count)
    // By index: a loop over copies of the entries retains and releases every name and shape.
    for position in tensors.indices {
      let name = tensors[position].name
      guard positions.updateValue(position, forKey: name) == nil else { throw .duplicateTensor(name) }
    }
    for next in tensors.indices.dropFirst()
    where tensors[next].dataOffsets.lowerBound < tensors[next - 1].dataOffsets.upperBound {
      throw .overlappingTensors(tensors[next - 1].name, tensors[next].name)
    }
    self.tensors = tensors
    self.metadata = metadata
    self.positions = positions
  }

  private static func metadata(_ scanner: inout HeaderScanner) throws(SafetensorsError) -> [String: String] {
    guard scanner.peek() == UInt8(ascii: "{") else { throw .invalidMetadata(key: "__metadata__") }
    var fields: [String: String] = [:]
    try scanner.object { (scanner, key) throws(SafetensorsError) in
      guard scanner.peek() == UInt8(ascii: "\"") else { throw .invalidMetadata(key: key) }
      fields[key] = try scanner.string()
    }
    return fields
  }

  private static func entry(name: String, scanner: inout HeaderScanner, dataSize: Int64) throws(SafetensorsError)
    -> SafetensorsTensorInfo
  {
    guard scanner.peek() == UInt8(ascii: "{") else {
      throw .invalidField(tensor: name, field: "entry", value: "'\(scanner.text(try scanner.skipValue()))'")
    }
    var dtypeName: String?
    var shape: [Int64]?
    var offsets: [Int64]?
    try scanner.object { (scanner, field) throws(SafetensorsError) in
      switch field {
      case "dtype":
        guard dtypeName == nil else { throw .invalidField(tensor: name, field: field, value: "(given twice)") }
        guard scanner.peek() == UInt8(ascii: "\"") else {
          throw .invalidField(tensor: name, field: field, value: "'\(scanner.text(try scanner.skipValue()))'")
        }
        dtypeName = try scanner.string()
      case "shape", "data_offsets":
        guard (field == "shape" ? shape : offsets) == nil else {
          throw .invalidField(tensor: name, field: field, value: "(given twice)")
        }
        let values = try integers(&scanner, tensor: name, field: field)
        if field == "shape" { shape = values } else { offsets = values }
      default:
        try scanner.skipValue()
      }
    }
    guard let dtypeName else { throw .invalidField(tensor: name, field: "dtype", value: "'missing'") }
    guard let dtype = SafetensorsDType(rawValue: dtypeName) else { throw .unknownDType(tensor: name, dtype: dtypeName) }
    guard let shape else { throw .invalidField(tensor: name, field: "shape", value: "'missing'") }
    guard let offsets else { throw .invalidField(tensor: name, field: "data_offsets", value: "'missing'") }
    guard offsets.count == 2, offsets[0] <= offsets[1] else {
      throw .invalidField(
        tensor: name, field: "data_offsets", value: "[\(offsets.map(String.init).joined(separator: ", "))]")
    }
    guard let bytes = SafetensorsTensorInfo.checkedProduct(shape, startingAt: dtype.byteSize) else {
      throw .sizeOverflow(tensor: name, shape: shape)
    }
    guard offsets[1] - offsets[0] == bytes else {
      throw .offsetsMismatchShape(tensor: name, offsets: offsets, expectedBytes: bytes)
    }
    guard offsets[1] <= dataSize else { throw .offsetsOutOfRange(tensor: name, end: offsets[1], dataSize: dataSize) }
    return try SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: offsets[0]..<offsets[1])
  }

  /// A JSON array of non-negative integers written as plain digits: `1.5`, `1e3`, `-1`, `true`
  /// and anything past Int64 are refused, showing the array as written.
  private static func integers(_ scanner: inout HeaderScanner, tensor: String, field: String) throws(SafetensorsError)
    -> [Int64]
  {
    guard scanner.peek() == UInt8(ascii: "[") else {
      throw .invalidField(tensor: tensor, field: field, value: "'\(scanner.text(try scanner.skipValue()))'")
    }
    var values: [Int64] = []
    var isValid = true
    let start = scanner.position
    try scanner.array { (scanner) throws(SafetensorsError) in
      let range = try scanner.skipValue()
      if isValid, let value = scanner.plainInteger(range) {
        values.append(value)
      } else {
        isValid = false
      }
    }
    guard isValid else {
      // Only now the elements' text, for the message (scanned again).
      var elements: [String] = []
      var count = 0
      var again = scanner
      again.position = start
      try again.array { (scanner) throws(SafetensorsError) in
        let range = try scanner.skipValue()
        if count < 16 { elements.append(scanner.text(range, limit: 24)) }
        count += 1
      }
      let shown = elements.joined(separator: ", ") + (count > 16 ? ", …" : "")
      throw .invalidField(tensor: tensor, field: field, value: "[\(shown)]")
    }
    return values
  }
}

extension [SafetensorsTensorInfo] {
  /// Whether no tensor precedes the one before it in data order (then sorting changes nothing:
  /// tensors that tie completely share a name, which the header refuses either way).
  var isSortedByDataOrder: Bool {
    indices.dropFirst().allSatisfy { !SafetensorsTensorInfo.precedesInDataOrder(self[$0], self[$0 - 1]) }
  }
}

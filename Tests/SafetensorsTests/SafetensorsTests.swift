import Foundation
import Safetensors
import Testing

/// Round trips through the writer and reader, and a clear error for every malformed file.
@Suite struct SafetensorsTests {
  /// A fresh temporary path per test.
  static func temporaryURL(_ name: String = #function) -> URL {
    FileManager.default.temporaryDirectory
      .appendingPathComponent("safetensors-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
      .appendingPathExtension("safetensors")
  }

  /// A file made of an explicit header length, header text and data bytes.
  static func rawFile(length: UInt64? = nil, header: String, data: [UInt8] = []) throws -> URL {
    let json = Array(header.utf8)
    let declared = length ?? UInt64(json.count)
    let bytes = (0..<8).map { UInt8(truncatingIfNeeded: declared >> (8 * $0)) } + json + data
    let url = temporaryURL()
    try Data(bytes).write(to: url)
    return url
  }

  static func expectError(
    _ expected: SafetensorsError, header: String, length: UInt64? = nil, data: [UInt8] = [],
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let url = try rawFile(length: length, header: header, data: data)
    defer { try? FileManager.default.removeItem(at: url) }
    #expect(throws: expected, sourceLocation: sourceLocation) { try SafetensorsFile(url: url) }
  }

  @Test func writtenFileReadsBackIdentical() throws {
    let url = Self.temporaryURL()
    defer { try? FileManager.default.removeItem(at: url) }
    let weights = (0..<6).flatMap { withUnsafeBytes(of: Float($0) * 0.5) { Array($0) } }
    let flags: [UInt8] = [1, 0, 1]
    let writer = try SafetensorsWriter(
      url: url,
      tensors: [
        SafetensorsTensorSpec(name: "layer.weight", dtype: .f32, shape: [2, 3]),
        SafetensorsTensorSpec(name: "mask \"quoted\"", dtype: .bool, shape: [3]),
        SafetensorsTensorSpec(name: "empty", dtype: .bf16, shape: [0, 4]),
      ],
      metadata: ["format": "pt"])
    try writer.write("layer.weight", bytes: weights)
    try writer.write("mask \"quoted\"", bytes: flags)
    try writer.write("empty", bytes: [UInt8]())
    try writer.finish()

    let file = try SafetensorsFile(url: url)
    #expect(file.header.metadata == ["format": "pt"])
    #expect(file.header.tensors.map(\.name) == ["layer.weight", "mask \"quoted\"", "empty"])
    let layer = try file.tensor(named: "layer.weight")
    #expect(layer.dtype == .f32)
    #expect(layer.shape == [2, 3])
    #expect(layer.dataOffsets == 0..<24)
    #expect([UInt8](try file.data(for: layer)) == weights)
    #expect([UInt8](try file.data(named: "mask \"quoted\"")) == flags)
    #expect(try file.data(named: "empty").isEmpty)
    // 8-byte aligned data section.
    #expect(file.header.dataStart % 8 == 0)
  }

  @Test func writerRejectsWrongOrderSizeAndMissingData() throws {
    let url = Self.temporaryURL()
    defer { try? FileManager.default.removeItem(at: url) }
    let specs = [
      SafetensorsTensorSpec(name: "a", dtype: .f16, shape: [2]),
      SafetensorsTensorSpec(name: "b", dtype: .u8, shape: [1]),
    ]
    let writer = try SafetensorsWriter(url: url, tensors: specs)
    #expect(throws: SafetensorsError.outOfOrderWrite(expected: "a", actual: "b")) { try writer.write("b", bytes: [0]) }
    #expect(throws: SafetensorsError.byteCountMismatch(tensor: "a", expected: 4, actual: 3)) {
      try writer.write("a", bytes: [0, 0, 0])
    }
    try writer.write("a", bytes: [0, 0, 0, 0])
    #expect(throws: SafetensorsError.missingTensorData(["b"])) { try writer.finish() }
    #expect(throws: SafetensorsError.duplicateTensor("a")) {
      try SafetensorsWriter(url: url, tensors: [specs[0], specs[0]])
    }
  }

  @Test func fileShorterThanTheLengthPrefix() throws {
    let url = Self.temporaryURL()
    defer { try? FileManager.default.removeItem(at: url) }
    try Data([1, 2, 3]).write(to: url)
    #expect(throws: SafetensorsError.fileTooSmall(size: 3)) { try SafetensorsFile(url: url) }
  }

  @Test func headerLengthBeyondTheFile() throws {
    // "{}" is 2 bytes; the prefix claims 1,000 and the file has 10.
    try Self.expectError(.headerLengthBeyondFile(length: 1_000, fileSize: 10), header: "{}", length: 1_000)
  }

  @Test func absurdHeaderLengthIsRefusedBeforeAllocating() throws {
    try Self.expectError(.headerTooLarge(length: UInt64.max), header: "{}", length: UInt64.max)
    try Self.expectError(.headerTooLarge(length: 100_000_001), header: "{}", length: 100_000_001)
  }

  @Test func headerThatIsNotUTF8OrNotJSON() throws {
    let url = Self.temporaryURL()
    defer { try? FileManager.default.removeItem(at: url) }
    try Data([2, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFE]).write(to: url)
    #expect(throws: SafetensorsError.headerNotUTF8) { try SafetensorsFile(url: url) }

    let notJSON = try Self.rawFile(header: "{\"a\": ")
    defer { try? FileManager.default.removeItem(at: notJSON) }
    #expect { try SafetensorsFile(url: notJSON) } throws: { error in
      guard case .headerNotJSON = error as? SafetensorsError else { return false }
      return true
    }
    try Self.expectError(.headerNotJSON(reason: "the top level is not an object"), header: "[1, 2]")
  }

  @Test func unknownDType() throws {
    try Self.expectError(
      .unknownDType(tensor: "w", dtype: "F128"),
      header: #"{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#, data: Array(repeating: 0, count: 16))
  }

  @Test func badShapeAndOffsetFields() throws {
    try Self.expectError(
      .invalidField(tensor: "w", field: "shape", value: "[-1]"),
      header: #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
    try Self.expectError(
      .invalidField(tensor: "w", field: "shape", value: "[1.5]"),
      header: #"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
    try Self.expectError(
      .invalidField(tensor: "w", field: "data_offsets", value: "[4, 0]"),
      header: #"{"w":{"dtype":"U8","shape":[4],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0])
    try Self.expectError(
      .invalidField(tensor: "w", field: "dtype", value: "'missing'"),
      header: #"{"w":{"shape":[4],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
  }

  @Test func shapeWhoseByteCountOverflows() throws {
    // 2^62 * 2^2 elements of 4 bytes = 2^66 bytes.
    try Self.expectError(
      .sizeOverflow(tensor: "w", shape: [4_611_686_018_427_387_904, 4]),
      header: #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
  }

  @Test func offsetsThatDoNotMatchTheShape() throws {
    // 2 x 2 float32 needs 16 bytes; the offsets span 12.
    try Self.expectError(
      .offsetsMismatchShape(tensor: "w", offsets: [0, 12], expectedBytes: 16),
      header: #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#, data: Array(repeating: 0, count: 16))
  }

  @Test func offsetsPastTheDataSection() throws {
    // The data section holds 8 bytes; the tensor claims bytes 8..<16.
    try Self.expectError(
      .offsetsOutOfRange(tensor: "w", end: 16, dataSize: 8),
      header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data: Array(repeating: 0, count: 8))
  }

  @Test func overlappingTensors() throws {
    try Self.expectError(
      .overlappingTensors("a", "b"),
      header:
        #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#,
      data: Array(repeating: 0, count: 8))
  }

  @Test func metadataMustBeStrings() throws {
    try Self.expectError(.invalidMetadata(key: "n"), header: #"{"__metadata__":{"n":1}}"#)
  }

  @Test func fileTruncatedAfterOpening() throws {
    let url = try Self.rawFile(
      header: #"{"w":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}"#, data: Array(repeating: 7, count: 8))
    defer { try? FileManager.default.removeItem(at: url) }
    let file = try SafetensorsFile(url: url)
    let handle = try FileHandle(forWritingTo: url)
    try handle.truncate(atOffset: UInt64(file.header.dataStart + 3))
    try handle.close()
    #expect(throws: SafetensorsError.truncated(tensor: "w", expectedBytes: 8, readBytes: 3)) {
      try file.data(named: "w")
    }
  }

  @Test func unknownTensorName() throws {
    let url = try Self.rawFile(header: "{}")
    defer { try? FileManager.default.removeItem(at: url) }
    #expect(throws: SafetensorsError.unknownTensor("nope")) { try SafetensorsFile(url: url).data(named: "nope") }
  }

  @Test func messagesNameTheTensorAndValue() {
    let message = SafetensorsError.offsetsOutOfRange(tensor: "model.w", end: 16, dataSize: 8).description
    #expect(message.contains("'model.w'") && message.contains("16") && message.contains("8"))
    #expect(!message.contains("\n"))
  }
}

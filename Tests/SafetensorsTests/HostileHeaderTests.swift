import Foundation
import Safetensors
import Testing

/// Headers that JSON readers accept but a safetensors reader must not (issue 12), and the
/// library API on values a caller can pass.
@Suite struct HostileHeaderTests {
  static func expectError(
    _ expected: SafetensorsError, header: String, data: [UInt8] = [],
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    try SafetensorsTests.expectError(expected, header: header, data: data, sourceLocation: sourceLocation)
  }

  @Test func aTensorNamedTwiceIsRefused() throws {
    try Self.expectError(
      .duplicateTensor("a"),
      header:
        #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#,
      data: [1, 2])
    try Self.expectError(.duplicateTensor("__metadata__"), header: #"{"__metadata__":{},"__metadata__":{}}"#)
  }

  @Test func booleansAndExponentsAreNotDimensions() throws {
    try Self.expectError(
      .invalidField(tensor: "a", field: "shape", value: "[true]"),
      header: #"{"a":{"dtype":"U8","shape":[true],"data_offsets":[0,1]}}"#, data: [1])
    try Self.expectError(
      .invalidField(tensor: "a", field: "shape", value: "[1e0]"),
      header: #"{"a":{"dtype":"U8","shape":[1e0],"data_offsets":[0,1]}}"#, data: [1])
    try Self.expectError(
      .invalidField(tensor: "a", field: "shape", value: "[9223372036854775808]"),
      header: #"{"a":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,1]}}"#, data: [1])
  }

  @Test func aZeroDimensionMakesAnEmptyTensorWhateverTheOthers() throws {
    // 2^62 x 2^62 x 0: the product overflows on the way unless the zero is seen first.
    let url = try SafetensorsTests.rawFile(
      header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904,0],"data_offsets":[0,0]}}"#)
    defer { try? FileManager.default.removeItem(at: url) }
    let info = try SafetensorsFile(url: url).tensor(named: "a")
    #expect(info.elementCount == 0)
    #expect(info.byteCount == 0)
  }

  @Test func nestingInAnUnknownFieldIsBounded() throws {
    let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
    let url = try SafetensorsTests.rawFile(
      header: #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":"# + deep + "}}", data: [1])
    defer { try? FileManager.default.removeItem(at: url) }
    #expect {
      try SafetensorsFile(url: url)
    } throws: { error in
      guard case .headerNotJSON(let reason) = error as? SafetensorsError else { return false }
      return reason.hasPrefix("nested deeper than 64 levels")
    }
  }

  @Test func escapedNamesReadBackExactly() throws {
    let url = try SafetensorsTests.rawFile(
      header: #"{"caf\u00e9 \ud83d\ude00 \"q\" \u001b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [7])
    defer { try? FileManager.default.removeItem(at: url) }
    #expect(try SafetensorsFile(url: url).header.tensors.map(\.name) == ["café 😀 \"q\" \u{1B}"])
  }

  @Test func entriesWithImpossibleValuesCannotBeBuilt() {
    #expect(throws: SafetensorsError.invalidField(tensor: "a", field: "shape", value: "[-1]")) {
      try SafetensorsTensorInfo(name: "a", dtype: .u8, shape: [-1], dataOffsets: 0..<0)
    }
    #expect(throws: SafetensorsError.sizeOverflow(tensor: "a", shape: [1 << 62, 4])) {
      try SafetensorsTensorInfo(name: "a", dtype: .f32, shape: [1 << 62, 4], dataOffsets: 0..<0)
    }
    #expect(throws: SafetensorsError.invalidField(tensor: "a", field: "data_offsets", value: "[\(Int64.min), 0]")) {
      try SafetensorsTensorInfo(name: "a", dtype: .u8, shape: [1], dataOffsets: Int64.min..<0)
    }
  }

  @Test func anotherFilesEntryIsNotReadFromThisFile() throws {
    let url = try SafetensorsTests.rawFile(header: #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [7])
    defer { try? FileManager.default.removeItem(at: url) }
    let file = try SafetensorsFile(url: url)
    let foreign = try SafetensorsTensorInfo(name: "a", dtype: .u8, shape: [1 << 40], dataOffsets: 0..<(1 << 40))
    #expect(throws: SafetensorsError.unknownTensor("a")) { try file.data(for: foreign) }
  }

  /// Trailing tensors (bitsandbytes' quant-state JSON) go after the others, and the header is
  /// padded with spaces into the room reserved for the longest numbers they could need.
  @Test func trailingTensorsReadBackWithAPaddedHeader() throws {
    let url = SafetensorsTests.temporaryURL()
    defer { try? FileManager.default.removeItem(at: url) }
    let writer = try SafetensorsWriter(
      url: url, tensors: [.init(name: "w", dtype: .u8, shape: [3])], trailing: ["w.state"], replacingExisting: false)
    try writer.write("w", bytes: [1, 2, 3])
    try writer.finish(trailing: ["w.state": Array(#"{"k": 1}"#.utf8)])
    let file = try SafetensorsFile(url: url)
    #expect(file.header.dataStart % 8 == 0)
    #expect(try file.tensor(named: "w").dataOffsets == 0..<3)
    #expect(try file.tensor(named: "w.state").dataOffsets == 3..<11)
    #expect(String(decoding: try file.data(named: "w.state"), as: UTF8.self) == #"{"k": 1}"#)
    let bytes = [UInt8](try Data(contentsOf: url))
    let header = String(decoding: bytes[8..<Int(file.header.dataStart)], as: UTF8.self)
    let json = header.replacingOccurrences(of: " +$", with: "", options: .regularExpression)
    #expect(json.hasSuffix("}") && json.count < header.count, "JSON, then spaces")
    #expect(try JSONSerialization.jsonObject(with: Data(json.utf8)) is [String: Any])
  }
}

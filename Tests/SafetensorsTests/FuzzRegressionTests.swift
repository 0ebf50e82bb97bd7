import Foundation
import Safetensors
import Testing

/// The safetensors fuzz corpus and regressions (Tests/Fuzz/), replayed through the real reader,
/// and the hostile headers of issue 6: each is refused with a one-line error before anything
/// larger than the file is allocated.
@Suite struct SafetensorsFuzzRegressionTests {
  static func inputs(_ kind: String) -> [URL] {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fuzz").appendingPathComponent(kind).appendingPathComponent("safetensors")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return names.sorted().map { folder.appendingPathComponent($0) }
  }

  static let allInputs = inputs("corpus") + inputs("regressions")

  /// What a valid header promises: tensors sorted, disjoint, inside the data section, each
  /// spanning exactly product(shape) x dtype size bytes (recomputed here in checked arithmetic).
  static func expectValid(_ header: SafetensorsHeader, fileSize: Int64) throws {
    let dataSize = fileSize - header.dataStart
    #expect(dataSize >= 0)
    var end: Int64 = 0
    for info in header.tensors {
      #expect(info.dataOffsets.lowerBound >= end, "\(info.name) overlaps or is out of order")
      #expect(info.dataOffsets.upperBound <= dataSize, "\(info.name) ends past the data")
      // A zero dimension makes the tensor empty, whatever the product of the others.
      var bytes = info.shape.contains(0) ? 0 : info.dtype.byteSize
      for dimension in info.shape where bytes > 0 {
        let (product, overflow) = bytes.multipliedReportingOverflow(by: dimension)
        try #require(!overflow && dimension >= 0)
        bytes = product
      }
      #expect(bytes == info.byteCount)
      end = info.dataOffsets.upperBound
    }
  }

  @Test func theCorpusIsThere() {
    #expect(Self.allInputs.count >= 20)
  }

  /// Each corpus file opened as a file: a validated header whose every tensor reads back with
  /// exactly its byte count, or a one-line SafetensorsError.
  @Test(arguments: allInputs.map(\.lastPathComponent))
  func corpusFileOpensOrIsRefusedInOneLine(_ name: String) throws {
    let url = try #require(Self.allInputs.first { $0.lastPathComponent == name })
    let file: SafetensorsFile
    do {
      file = try SafetensorsFile(url: url)
    } catch {
      #expect(!error.description.isEmpty && !error.description.contains("\n"), "\(error)")
      return
    }
    try Self.expectValid(file.header, fileSize: file.fileSize)
    for info in file.header.tensors {
      #expect(Int64(try file.data(for: info).count) == info.byteCount)
    }
  }

  /// The same bytes read as a header alone (the fuzz harness's second mode).
  @Test(arguments: allInputs.map(\.lastPathComponent))
  func corpusFileAsAHeaderParsesOrIsRefused(_ name: String) throws {
    let url = try #require(Self.allInputs.first { $0.lastPathComponent == name })
    let bytes = [UInt8](try Data(contentsOf: url))
    let fileSize = 8 + Int64(bytes.count) + (1 << 20)
    do {
      try Self.expectValid(try SafetensorsHeader(json: bytes, fileSize: fileSize), fileSize: fileSize)
    } catch let error as SafetensorsError {
      #expect(!error.description.contains("\n"))
    }
  }

  // MARK: - Hostile headers (issue 6)

  /// The header length is refused from the 8-byte prefix and the file size alone, before the
  /// header is read: no buffer of the claimed size can exist.
  @Test(arguments: [UInt64(1) << 63, UInt64.max, 100_000_001])
  func aHeaderClaiming2To63BytesIsRefusedFromThePrefix(_ claimed: UInt64) throws {
    let prefix = (0..<8).map { UInt8(truncatingIfNeeded: claimed >> (8 * $0)) }
    #expect(throws: SafetensorsError.headerTooLarge(length: claimed)) {
      try SafetensorsHeader.validatedHeaderLength(prefix, fileSize: 10)
    }
    #expect(!SafetensorsError.headerTooLarge(length: claimed).description.contains("\n"))
  }

  /// A length under the format's limit but past the end of a small file: refused the same way.
  @Test func aHeaderLengthUnderTheLimitButPastTheFileIsRefusedFromThePrefix() {
    let claimed: UInt64 = 99_999_999
    let prefix = (0..<8).map { UInt8(truncatingIfNeeded: claimed >> (8 * $0)) }
    #expect(throws: SafetensorsError.headerLengthBeyondFile(length: claimed, fileSize: 64)) {
      try SafetensorsHeader.validatedHeaderLength(prefix + [UInt8](repeating: 32, count: 56), fileSize: 64)
    }
  }

  /// A tensor claiming 2^63 - 1 bytes is refused when the header is parsed; its data is never read.
  @Test func aTensorClaimingAlmost2To63BytesIsRefusedAtParse() {
    let json = Array(#"{"w":{"dtype":"U8","shape":[9223372036854775807],"data_offsets":[0,9223372036854775807]}}"#.utf8)
    #expect(throws: SafetensorsError.offsetsOutOfRange(tensor: "w", end: Int64.max, dataSize: 16)) {
      try SafetensorsHeader(json: json, fileSize: 8 + Int64(json.count) + 16)
    }
  }

  @Test func offsetsBeyond2To63AreNotIntegersWeAccept() {
    for offsets in ["[0,9223372036854775808]", "[0,18446744073709551615]", "[0,18446744073709551616]", "[0,1e400]"] {
      let json = Array(#"{"w":{"dtype":"U8","shape":[1],"data_offsets":\#(offsets)}}"#.utf8)
      #expect(throws: SafetensorsError.self) { try SafetensorsHeader(json: json, fileSize: 1 << 20) }
    }
  }

  @Test func aShapeProductThatOverflowsOnlyWithTheDtypeSizeIsRefused() {
    // 2^61 elements fit in Int64; 2^61 x 8 bytes (F64) do not.
    let json = Array(#"{"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}"#.utf8)
    #expect(throws: SafetensorsError.sizeOverflow(tensor: "w", shape: [2_305_843_009_213_693_952])) {
      try SafetensorsHeader(json: json, fileSize: 1 << 20)
    }
  }

  /// JSON object order carries no meaning: tensors listed out of data order are read in data
  /// order; reversed offsets and overlaps are refused.
  @Test func unsortedEntriesAreOrderedAndReversedOrOverlappingOnesRefused() throws {
    let unsorted = Array(
      #"{"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#.utf8
    )
    let header = try SafetensorsHeader(json: unsorted, fileSize: 8 + Int64(unsorted.count) + 4)
    #expect(header.tensors.map(\.name) == ["a", "b"])
    let reversed = Array(#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[4,2]}}"#.utf8)
    #expect(throws: SafetensorsError.invalidField(tensor: "a", field: "data_offsets", value: "[4, 2]")) {
      try SafetensorsHeader(json: reversed, fileSize: 1 << 20)
    }
    let overlapping = Array(
      #"{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#.utf8
    )
    #expect(throws: SafetensorsError.overlappingTensors("a", "b")) {
      try SafetensorsHeader(json: overlapping, fileSize: 1 << 20)
    }
  }

  /// Tensors whose offsets tie (empty ones at one offset) are ordered by name, whether listed in
  /// that order or not; an empty tensor at the end of a non-empty one is not an overlap, and a
  /// name listed twice with the same offsets is still refused.
  @Test func tiesAreOrderedByNameAndCompleteTiesRefused() throws {
    let empty = #"{"dtype":"U8","shape":[0],"data_offsets":[2,2]}"#
    let two = #"{"dtype":"U8","shape":[2],"data_offsets":[0,2]}"#
    for json in [#"{"z":\#(empty),"b":\#(empty),"a":\#(two)}"#, #"{"a":\#(two),"b":\#(empty),"z":\#(empty)}"#] {
      let header = try SafetensorsHeader(json: Array(json.utf8), fileSize: 8 + Int64(json.utf8.count) + 2)
      #expect(header.tensors.map(\.name) == ["a", "b", "z"], "\(json)")
    }
    for json in [#"{"b":\#(empty),"a":\#(two),"b":\#(empty)}"#, #"{"b":\#(empty),"b":\#(empty)}"#] {
      #expect(throws: SafetensorsError.duplicateTensor("b"), "\(json)") {
        try SafetensorsHeader(json: Array(json.utf8), fileSize: 1 << 20)
      }
    }
  }

  @Test func aHeaderThatIsNotUTF8OrNotJSONIsOneLine() {
    for json: [UInt8] in [
      [0xFF, 0xFE], [0xC0, 0x80], Array("{\"a\":".utf8), Array("[1]".utf8), Array("\"x\"".utf8), [],
    ] {
      do {
        _ = try SafetensorsHeader(json: json, fileSize: 1 << 20)
        Issue.record("accepted \(json)")
      } catch {
        #expect(!error.description.contains("\n"), "\(error)")
      }
    }
  }
}

import Foundation
import Safetensors
import Testing

/// A file larger than several writeback strides, written in pieces whose pages are handed to
/// the disk and dropped from the page cache as it grows, reads back byte for byte.
@Suite struct EarlyWritebackTests {
  @Test func writtenPiecesReadBackAfterTheirPagesAreDropped() throws {
    let url = SafetensorsTests.temporaryURL()
    defer { try? FileManager.default.removeItem(at: url) }
    // 40 MiB + 3 bytes in 1 MiB + 1 pieces: hints fall between pieces and inside none.
    let count = (40 << 20) + 3
    let spec = SafetensorsTensorSpec(name: "w", dtype: .u8, shape: [Int64(count)])
    let expected = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 11) }
    let writer = try SafetensorsWriter(url: url, tensors: [spec, .init(name: "tail", dtype: .u8, shape: [2])])
    var offset = 0
    while offset < count {
      let piece = min((1 << 20) + 1, count - offset)
      try expected.withUnsafeBytes {
        try writer.append("w", bytes: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + piece)]))
      }
      offset += piece
    }
    try writer.write("tail", bytes: [7, 9])
    try writer.finish()
    let file = try SafetensorsFile(url: url)
    #expect(try file.data(named: "w") == Data(expected))
    #expect(try file.data(named: "tail") == Data([7, 9]))
  }
}

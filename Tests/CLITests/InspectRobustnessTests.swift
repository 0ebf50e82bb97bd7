import Foundation
import Testing

/// `inspect` on checkpoints whose bitsandbytes quant state lies about the weight's shape.
@Suite struct InspectRobustnessTests {
  /// A one-weight 4-bit checkpoint whose quant-state JSON carries `shape`.
  static func checkpoint(shape: String) throws -> URL {
    let state = Data(#"{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": \#(shape)}"#.utf8)
    let packed = 8
    let header = """
      {"w.weight": {"dtype": "U8", "shape": [\(packed), 1], "data_offsets": [0, \(packed)]}, \
      "w.weight.quant_state.bitsandbytes__nf4": {"dtype": "U8", "shape": [\(state.count)], \
      "data_offsets": [\(packed), \(packed + state.count)]}}
      """
    var file = Data()
    var length = UInt64(header.utf8.count).littleEndian
    file.append(Data(bytes: &length, count: 8))
    file.append(Data(header.utf8))
    file.append(Data(repeating: 0x77, count: packed))
    file.append(state)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("inspect-\(UUID().uuidString).safetensors")
    try file.write(to: url)
    return url
  }

  @Test(arguments: ["[1099511627776, 1099511627776]", "[-4, 4]", "[1.5, 2]"])
  func aLyingShapeIsAnErrorNotACrash(_ shape: String) throws {
    let url = try Self.checkpoint(shape: shape)
    defer { try? FileManager.default.removeItem(at: url) }
    let result = try BinaryRunner.run(["inspect", url.path])
    #expect(result.status == 1)
    #expect(result.standardError.contains("shape"))
  }

  @Test func anHonestShapeIsCounted() throws {
    let url = try Self.checkpoint(shape: "[4, 4]")
    defer { try? FileManager.default.removeItem(at: url) }
    let result = try BinaryRunner.run(["inspect", url.path])
    #expect(result.status == 0)
    #expect(result.standardOutput.contains("16 parameters"))
  }
}

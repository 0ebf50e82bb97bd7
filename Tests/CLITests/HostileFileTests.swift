import Foundation
import NF4Quantization
import Safetensors
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The binary on the files a hostile user brings (issue 12): one-line errors, exit 1 or 64, no
/// hang, and no output that replaces an input.
@Suite struct HostileFileTests {
  static func folder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  static func smallModel(_ url: URL) throws {
    let values = try SyntheticWeights.normal(count: 64 * 64, seed: 9).map { BFloat16($0) }
    let writer = try SafetensorsWriter(
      url: url, tensors: [.init(name: "model.layers.0.mlp.up_proj.weight", dtype: .bf16, shape: [64, 64])])
    try writer.write("model.layers.0.mlp.up_proj.weight", bytes: values.withUnsafeBytes { Array($0) })
    try writer.finish()
  }

  @Test func aFIFOIsAOneLineErrorNotAHang() throws {
    let root = try Self.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    let fifo = root.appendingPathComponent("pipe.safetensors")
    try #require(mkfifo(fifo.path, 0o600) == 0)
    for arguments in [
      ["inspect", fifo.path], ["quantize-check", fifo.path],
      ["quantize", fifo.path, root.appendingPathComponent("o").path],
    ] {
      let result = try BinaryRunner.run(arguments)
      #expect(result.status == 1, "\(arguments)")
      #expect(result.standardError == "Error: '\(fifo.path)' is a FIFO (named pipe), not a regular file.\n")
    }
  }

  @Test func anEmptyPathIsAUsageError() throws {
    for arguments in [["inspect", ""], ["quantize-check", ""], ["quantize", "", "out"]] {
      let result = try BinaryRunner.run(arguments)
      #expect(result.status == 64, "\(arguments)")
      #expect(result.standardError.hasPrefix("Error: The value '' is invalid"))
    }
  }

  @Test func quantizingThroughALinkNeverChangesTheInput() throws {
    let root = try Self.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    let input = root.appendingPathComponent("in.safetensors")
    let link = root.appendingPathComponent("link.safetensors")
    try Self.smallModel(input)
    try FileManager.default.createSymbolicLink(at: link, withDestinationURL: input)
    let before = try Data(contentsOf: input)
    for (from, to) in [(link, input), (input, link)] {
      let result = try BinaryRunner.run(["quantize", from.path, to.path, "--force"])
      #expect(result.status == 1)
      #expect(result.standardError.contains("(the same file)"))
    }
    #expect(try Data(contentsOf: input) == before)
  }

  @Test func anExistingOutputNeedsForce() throws {
    let root = try Self.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    let input = root.appendingPathComponent("in.safetensors")
    let output = root.appendingPathComponent("out.safetensors")
    try Self.smallModel(input)
    try Data("keep me".utf8).write(to: output)
    let refused = try BinaryRunner.run(["quantize", input.path, output.path])
    #expect(refused.status == 1)
    #expect(refused.standardError == "Error: The output '\(output.path)' already exists: pass --force to replace it.\n")
    #expect(try String(contentsOf: output, encoding: .utf8) == "keep me")
    // --force replaces only a previous output of quantize: not a file it did not write.
    let notOurs = try BinaryRunner.run(["quantize", input.path, output.path, "--force"])
    #expect(notOurs.status == 1)
    #expect(
      notOurs.standardError
        == "Error: The output '\(output.path)' is not one qlora-budget wrote (not a safetensors file): "
        + "--force replaces only a previous output; choose another output.\n")
    #expect(try String(contentsOf: output, encoding: .utf8) == "keep me")
    try FileManager.default.removeItem(at: output)
    #expect(try BinaryRunner.run(["quantize", input.path, output.path]).status == 0)
    let forced = try BinaryRunner.run(["quantize", input.path, output.path, "--force", "--quant", "fp4"])
    #expect(forced.status == 0)
    #expect(forced.standardError.isEmpty, "no progress when stderr is not a terminal")
    #expect(try SafetensorsFile(url: output).header.tensors.count == 6)
    #expect(try SafetensorsFile(url: output).header.tensors.contains { $0.name.hasSuffix("bitsandbytes__fp4") })
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() == ["in.safetensors", "out.safetensors"])
  }

  @Test func controlCharactersInATensorNameAreShownEscaped() throws {
    let root = try Self.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    let url = root.appendingPathComponent("ctrl.safetensors")
    let writer = try SafetensorsWriter(url: url, tensors: [.init(name: "evil\u{1B}[31m", dtype: .u8, shape: [1])])
    try writer.write("evil\u{1B}[31m", bytes: [1])
    try writer.finish()
    let result = try BinaryRunner.run(["inspect", url.path, "--tensors"])
    #expect(result.status == 0)
    #expect(!result.standardOutput.contains("\u{1B}"))
    #expect(result.standardOutput.contains("evil\\u{1b}[31m"))
  }
}

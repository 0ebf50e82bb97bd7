import Foundation
import NF4Quantization
import QLoRABudget
import QLoRABudgetInputs
import Safetensors
import Testing

/// `inspect`, `quantize` and `quantize-check` through the real binary.
@Suite struct EngineCommandTests {
  static func temporaryURL(_ suffix: String = ".safetensors") -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("engine-cli-\(UUID().uuidString)\(suffix)")
  }

  /// A tiny model: embedding (bf16 [100, 64]), one q_proj (f32 [64, 64]), one up_proj
  /// (bf16 [128, 64]), a norm (f32 [64]), lm_head (bf16 [100, 64]).
  static func writeModel(to url: URL) throws {
    let specs: [SafetensorsTensorSpec] = [
      .init(name: "model.embed_tokens.weight", dtype: .bf16, shape: [100, 64]),
      .init(name: "model.layers.0.self_attn.q_proj.weight", dtype: .f32, shape: [64, 64]),
      .init(name: "model.layers.0.mlp.up_proj.weight", dtype: .bf16, shape: [128, 64]),
      .init(name: "model.norm.weight", dtype: .f32, shape: [64]),
      .init(name: "lm_head.weight", dtype: .bf16, shape: [100, 64]),
    ]
    let writer = try SafetensorsWriter(url: url, tensors: specs)
    for (index, spec) in specs.enumerated() {
      let count = Int(spec.shape.reduce(1, *))
      let values = try SyntheticWeights.normal(count: count, seed: UInt64(index))
      let bytes =
        spec.dtype == .f32
        ? values.withUnsafeBytes { Array($0) } : values.map { BFloat16($0) }.withUnsafeBytes { Array($0) }
      try writer.write(spec.name, bytes: bytes)
    }
    try writer.finish()
  }

  @Test func quantizeThenInspectMeasuresTheFormulasBits() throws {
    let (input, output) = (Self.temporaryURL(), Self.temporaryURL())
    defer { [input, output].forEach { try? FileManager.default.removeItem(at: $0) } }
    try Self.writeModel(to: input)

    let quantize = try BinaryRunner.run([
      "quantize", input.path, output.path, "--blocksize", "64", "--double-quant", "true",
    ])
    #expect(quantize.status == 0)
    #expect(quantize.standardOutput.contains("Quantized 2 weights to nf4"))
    #expect(quantize.standardOutput.contains("copied 3 tensors"))

    let json = try BinaryRunner.json(try BinaryRunner.run(["inspect", output.path, "--json"]))
    let fourBit = try #require(json["four_bit"] as? [String: Any])
    // q_proj 4,096 + up_proj 8,192 parameters.
    #expect(fourBit["parameters"] as? Int64 == 12_288)
    let formula =
      FourBitWeightBuffers(elementCount: 4096, blockSize: 64, doubleQuantization: true).total.bytes
      + FourBitWeightBuffers(elementCount: 8192, blockSize: 64, doubleQuantization: true).total.bytes
    #expect(fourBit["bytes"] as? Int64 == formula)
    let groups = try #require(json["groups"] as? [[String: Any]])
    let roles = Set(groups.compactMap { $0["role"] as? String })
    #expect(roles == ["4-bit packed", "quant state", "embedding", "lm_head", "norm"])
    let packed = try #require(groups.first { $0["role"] as? String == "4-bit packed" })
    let packedBytes: Int64 = (4096 + 8192) / 2  // two codes a byte
    #expect(packed["bytes"] as? Int64 == packedBytes)
  }

  @Test func inspectFindsQuantStateInAnotherShard() throws {
    let (input, quantized) = (Self.temporaryURL(), Self.temporaryURL())
    let folder = Self.temporaryURL("")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { [input, quantized, folder].forEach { try? FileManager.default.removeItem(at: $0) } }
    try Self.writeModel(to: input)
    #expect(try BinaryRunner.run(["quantize", input.path, quantized.path, "--double-quant", "false"]).status == 0)
    // Shard 1: the packed codes; shard 2: everything else, including their quant state.
    let source = try SafetensorsFile(url: quantized)
    let packedNames: Set = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight"]
    for (index, group) in [
      source.header.tensors.filter { packedNames.contains($0.name) },
      source.header.tensors.filter { !packedNames.contains($0.name) },
    ].enumerated() {
      let shard = folder.appendingPathComponent("model-0000\(index + 1)-of-00002.safetensors")
      let writer = try SafetensorsWriter(
        url: shard, tensors: group.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape) })
      for info in group { try writer.write(info.name, bytes: source.data(for: info)) }
      try writer.finish()
    }
    let json = try BinaryRunner.json(try BinaryRunner.run(["inspect", folder.path, "--json"]))
    let fourBit = try #require(json["four_bit"] as? [String: Any])
    #expect(fourBit["weights"] as? Int64 == 2)
    #expect(fourBit["parameters"] as? Int64 == 12_288)
    let formula =
      FourBitWeightBuffers(elementCount: 4096, blockSize: 64, doubleQuantization: false).total.bytes
      + FourBitWeightBuffers(elementCount: 8192, blockSize: 64, doubleQuantization: false).total.bytes
    #expect(fourBit["bytes"] as? Int64 == formula)
  }

  @Test func inspectListsAnUnquantizedFolderByRole() throws {
    let folder = Self.temporaryURL("")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    try Self.writeModel(to: folder.appendingPathComponent("model-00001-of-00001.safetensors"))
    let result = try BinaryRunner.run(["inspect", folder.path])
    #expect(result.status == 0)
    let text = result.standardOutput
    #expect(text.contains("5 tensors in 1 file(s)"))
    // q_proj: 64 x 64 float32 = 16,384 bytes, the only F32 linear.
    #expect(
      text.split(separator: "\n").contains { $0.hasPrefix("linear") && $0.contains("F32") && $0.hasSuffix("16,384") })
    #expect(!text.contains("4-bit weights"))
  }

  @Test func quantizeCheckOnASyntheticShape() throws {
    let result = try BinaryRunner.run(["quantize-check", "--shape", "16x256", "--seed", "3", "--json"])
    #expect(result.status == 0)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
    let rows = try #require(object["rows"] as? [[String: Any]])
    // Synthetic weights have no model to estimate: only the engine's bytes.
    #expect((object["nf4_bytes"] as? [String: Any])?["estimated"] is NSNull)
    #expect(rows.compactMap { $0["format"] as? String } == ["nf4", "fp4", "int4"])
    // The same statistics the library computes for the same seeded weights.
    let values = try SyntheticWeights.normal(count: 16 * 256, standardDeviation: 0.02, seed: 3)
    let settings = try QuantizationSettings()
    let nf4 = try QuantizedTensor(quantizing: values, shape: [16, 256], settings: settings)
    let expected = try QuantizationErrorStatistics(original: values, reconstructed: nf4.dequantized())
    #expect(rows[0]["mse"] as? Double == expected.meanSquaredError)
  }

  @Test(arguments: [
    (["quantize", "in.safetensors", "out.safetensors", "--blocksize", "100"], "'--blocksize'"),
    (["quantize", "in.safetensors", "out.safetensors", "--quant", "nf5"], "Did you mean 'nf4'?"),
    (["quantize", "same.safetensors", "same.safetensors"], "must differ"),
    (["quantize-check", "--shape", "12by3"], "'--shape'"),
    (["quantize-check", "x.safetensors", "--shape", "4x4"], "not both"),
  ])
  func usageErrorsExit64(arguments: [String], message: String) throws {
    let result = try BinaryRunner.run(arguments)
    #expect(result.status == 64)
    #expect(result.standardError.contains(message))
  }

  @Test func unreadableCheckpointIsAFailureNamingTheProblem() throws {
    let url = Self.temporaryURL()
    defer { try? FileManager.default.removeItem(at: url) }
    try Data([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0x7B, 0x7D]).write(to: url)
    let result = try BinaryRunner.run(["inspect", url.path])
    #expect(result.status == 1)
    #expect(result.standardError.contains("Header length 4294967295"))
  }
}

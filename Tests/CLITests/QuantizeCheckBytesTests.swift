import Foundation
import NF4Quantization
import Safetensors
import Testing

/// `quantize-check` on a model folder holds the NF4 buffers the engine makes against the
/// estimator's prediction for the folder's config.json (issue 12), both against arithmetic here.
@Suite struct QuantizeCheckBytesTests {
  /// A two-layer llama: hidden 64, 4 heads of 16 (2 key/value heads), MLP 96, vocabulary 32.
  static let config = """
    {"model_type": "llama", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
     "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 32, "tie_word_embeddings": false}
    """
  /// The decoder's linear weights per layer, `[out, in]`.
  static let linears: [(String, [Int64])] = [
    ("self_attn.q_proj", [64, 64]), ("self_attn.k_proj", [32, 64]), ("self_attn.v_proj", [32, 64]),
    ("self_attn.o_proj", [64, 64]), ("mlp.gate_proj", [96, 64]), ("mlp.up_proj", [96, 64]),
    ("mlp.down_proj", [64, 96]),
  ]

  /// bitsandbytes' NF4 buffers with double quantization, block 64, written out: ceil(n/2) packed,
  /// nb uint8 absmax, 4 * ceil(nb/256) nested absmax, 1,024 nested code, 4 offset, 64 code.
  static func buffers(_ n: Int64) -> Int64 {
    let blocks = (n + 63) / 64
    return (n + 1) / 2 + blocks + 4 * ((blocks + 255) / 256) + 1024 + 4 + 64
  }

  /// A model folder with the two-layer llama's weights and `config` as its config.json.
  static func folder(config: String) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qb-check-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var specs: [(SafetensorsTensorSpec, [UInt8])] = []
    var seed: UInt64 = 1
    func tensor(_ name: String, _ shape: [Int64]) {
      let count = Int(shape.reduce(1, *))
      let values = try! SyntheticWeights.normal(count: count, seed: seed).map { BFloat16($0) }
      seed += 1
      specs.append(
        (SafetensorsTensorSpec(name: name, dtype: .bf16, shape: shape), values.withUnsafeBytes { Array($0) }))
    }
    tensor("model.embed_tokens.weight", [32, 64])
    for layer in 0..<2 {
      for (name, shape) in Self.linears { tensor("model.layers.\(layer).\(name).weight", shape) }
      tensor("model.layers.\(layer).input_layernorm.weight", [64])
      tensor("model.layers.\(layer).post_attention_layernorm.weight", [64])
    }
    tensor("model.norm.weight", [64])
    tensor("lm_head.weight", [32, 64])
    let writer = try SafetensorsWriter(
      url: folder.appendingPathComponent("model.safetensors"), tensors: specs.map(\.0), metadata: ["format": "pt"])
    for (spec, bytes) in specs { try writer.write(spec.name, bytes: bytes) }
    try writer.finish()
    try Data(config.utf8).write(to: folder.appendingPathComponent("config.json"))
    return folder
  }

  @Test func measuredEqualsEstimatedEqualsArithmetic() throws {
    let folder = try Self.folder(config: Self.config)
    defer { try? FileManager.default.removeItem(at: folder) }
    let expected = 2 * Self.linears.reduce(Int64(0)) { $0 + Self.buffers($1.1[0] * $1.1[1]) }
    let result = try BinaryRunner.run(["quantize-check", folder.path, "--json"])
    #expect(result.status == 0, "\(result.standardError)")
    let bytes = try #require(try BinaryRunner.json(result)["nf4_bytes"] as? [String: Any])
    #expect(bytes["measured"] as? Int64 == expected)
    #expect(bytes["estimated"] as? Int64 == expected)
    let text = try BinaryRunner.run(["quantize-check", folder.path])
    #expect(text.standardOutput.contains("(equal)"))
  }

  /// A config the estimator refuses (a model_type it does not model): the engine's bytes are
  /// still reported, and the reason there is no estimate is said, not dropped.
  @Test func anUnreadableConfigSaysWhyThereIsNoEstimate() throws {
    let folder = try Self.folder(config: #"{"model_type": "kimi_k2", "hidden_size": 64}"#)
    defer { try? FileManager.default.removeItem(at: folder) }
    let json = try BinaryRunner.run(["quantize-check", folder.path, "--json"])
    #expect(json.status == 0)
    let bytes = try #require(try BinaryRunner.json(json)["nf4_bytes"] as? [String: Any])
    #expect(bytes["estimated"] is NSNull)
    #expect((bytes["estimate_error"] as? String)?.contains("kimi_k2") == true)
    let text = try BinaryRunner.run(["quantize-check", folder.path])
    #expect(text.standardOutput.contains("no estimate:"))
  }
}

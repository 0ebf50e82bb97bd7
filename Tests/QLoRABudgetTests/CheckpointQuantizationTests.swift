import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// A pre-quantized checkpoint's own `quantization_config` is the quantization estimated
/// (Fixtures/checkpoint-configs/README.md says where the fixture comes from).
@Suite struct CheckpointQuantizationTests {
  static let folder = TestData.packageRoot.appendingPathComponent("Tests/QLoRABudgetTests/Fixtures/checkpoint-configs")

  static func model(_ name: String) throws -> ModelArchitecture {
    let data = try Data(contentsOf: folder.appendingPathComponent(name).appendingPathComponent("config.json"))
    return try ModelArchitecture(configData: data, name: name)
  }

  /// FP4 without double quantization: per weight of n elements ceil(n/2) packed bytes, a 4-byte
  /// fp32 absmax per 64-element block and the 16-entry fp32 code (64 B). Llama-3.2-1B per layer:
  /// q, o 2048 x 2048; k, v 512 x 2048 (8 kv heads x head_dim 64); gate, up 8192 x 2048; down
  /// 2048 x 8192; 16 layers.
  @Test func fp4WithoutDoubleQuantIsEstimatedAsSuch() throws {
    let model = try Self.model("llama-3.2-1b-bnb-fp4")
    let setup = TrainingSetup.configured(by: nil, model: model)
    #expect(setup.quantization == .fp4)
    #expect(setup.usesDoubleQuantization == false)
    #expect(setup.computeDtype == .bf16)
    func bytes(_ n: Int64) -> Int64 { (n + 1) / 2 + 4 * ((n + 63) / 64) + 64 }
    let shapes: [Int64] = [2048 * 2048, 512 * 2048, 512 * 2048, 2048 * 2048, 8192 * 2048, 8192 * 2048, 2048 * 8192]
    let expected = 16 * shapes.map(bytes).reduce(0, +)
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    #expect(estimate.bytes(of: .quantizedWeights) == ByteCount(expected))
  }

  /// A setting given after the checkpoint (a flag) overrides it, and the accounting says which.
  @Test func aLaterSettingOverridesTheCheckpointAndIsRecorded() throws {
    let checkpoint = try #require(try Self.model("llama-3.2-1b-bnb-fp4").checkpointQuantization)
    let split = checkpoint.overridden(by: [.quantization(.nf4)])
    #expect(split.overridden.map(\.field.key) == ["quantization_config.load_in_4bit"])
    #expect(split.overridden.map(\.change) == [.quantization(.nf4)])
    #expect(split.used.map(\.change) == [.doubleQuantization(false), .computeDtype(.bf16)])
  }

  /// The checkpoint's quantization_config wins over a training config's (transformers keeps the
  /// checkpoint's when both are given).
  @Test func theCheckpointWinsOverATrainingConfig() throws {
    let config = try TrainingConfig(
      data: Data("base_model: x\nadapter: qlora\nload_in_4bit: true\n".utf8), path: "a.yml")
    let setup = TrainingSetup.configured(by: config, model: try Self.model("llama-3.2-1b-bnb-fp4"))
    #expect(setup.quantization == .fp4 && setup.usesDoubleQuantization == false)
    #expect(setup.recipe == .axolotl)
  }

  @Test func anEightBitCheckpointAndBadValues() throws {
    var config: [String: Any] = [
      "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
      "intermediate_size": 128, "vocab_size": 100,
      "quantization_config": [
        "quant_method": "bitsandbytes", "load_in_8bit": true, "llm_int8_skip_modules": ["lm_head", "mlp.down_proj"],
      ],
    ]
    let model = try TestData.model(config)
    #expect(model.checkpointQuantization?.changes == [.quantization(.int8)])
    // `mlp.down_proj` ends every layer's down projection's name: both stay 16-bit (no warning).
    #expect(model.checkpointQuantization?.keptUnquantized == ["mlp.down_proj in 2 of 2 layers"])
    #expect(model.warnings.isEmpty)
    config["quantization_config"] = ["load_in_4bit": true, "bnb_4bit_quant_type": "int4"]
    #expect(throws: ArchitectureError.self) { try TestData.model(config) }
    config["quantization_config"] = ["quant_method": "gptq", "bits": 4]
    let gptq = try TestData.model(config)
    #expect(gptq.checkpointQuantization?.changes == [])
    #expect(gptq.warnings.contains { $0.contains("gptq") })
  }

  /// llm_int8_skip_modules keeps modules out of quantization (transformers 5.25
  /// `should_convert_module`: a prefix up to a module boundary, or a suffix). A Llama of hidden
  /// 64, 2 layers, 4 heads of 16 (k, v 64 x 64), MLP 128, bf16, NF4 with double quantization, no
  /// blocks beyond one nested block: per weight of n elements n/2 packed + n/64 absmax bytes +
  /// 4 (one nested absmax) + 1024 + 4 + 64. Skipped: every module of layer 1's MLP (prefix
  /// `model.layers.1.mlp`) and o_proj in both layers (suffix `self_attn.o_proj`); `model.layers.1`
  /// must not take `model.layers.10`-style names, and `vision_tower` matches nothing.
  @Test func skippedModulesStayUnquantized() throws {
    let config: [String: Any] = [
      "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
      "intermediate_size": 128, "vocab_size": 100,
      "quantization_config": [
        "quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": true,
        "llm_int8_skip_modules": ["lm_head", "model.layers.1.mlp", "self_attn.o_proj", "vision_tower"],
      ],
    ]
    let model = try TestData.model(config)
    let checkpoint = try #require(model.checkpointQuantization)
    #expect(
      checkpoint.skippedInstances == ["self_attn.o_proj": 2, "mlp.gate_proj": 1, "mlp.up_proj": 1, "mlp.down_proj": 1])
    #expect(checkpoint.notes == ["llm_int8_skip_modules vision_tower matches no decoder linear module"])
    func fourBit(_ n: Int64) -> Int64 { n / 2 + n / 64 + 4 + 1024 + 4 + 64 }
    // Quantized: q, k, v in both layers (64 x 64 each), gate, up, down in layer 0 (64 x 128 each).
    let quantized = 6 * fourBit(64 * 64) + 3 * fourBit(64 * 128)
    let setup = TrainingSetup.configured(by: nil, model: model)
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    #expect(estimate.bytes(of: .quantizedWeights) == ByteCount(quantized))
    // Unquantized, fp32 after prepare_model_for_kbit_training: embeddings and lm_head 2 x 100 x 64,
    // norms 2 x 2 x 64 + 64, the skipped o_proj 2 x 64 x 64 and layer 1's MLP 3 x 64 x 128, and
    // the rotary inv_freq buffers (2 x 8 fp32: inv_freq and original_inv_freq of head_dim / 2).
    let unquantizedElements: Int64 = 2 * 100 * 64 + 5 * 64 + 2 * 64 * 64 + 3 * 64 * 128
    #expect(estimate.bytes(of: .unquantizedWeights) == ByteCount(4 * unquantizedElements + 2 * 8 * 4))
  }
}

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
    let config = try TrainingConfig(data: Data("base_model: x\nadapter: qlora\nload_in_4bit: true\n".utf8), path: "a.yml")
    let setup = TrainingSetup.configured(by: config, model: try Self.model("llama-3.2-1b-bnb-fp4"))
    #expect(setup.quantization == .fp4 && setup.usesDoubleQuantization == false)
    #expect(setup.recipe == .axolotl)
  }

  @Test func anEightBitCheckpointAndBadValues() throws {
    var config: [String: Any] = [
      "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
      "intermediate_size": 128, "vocab_size": 100,
      "quantization_config": ["quant_method": "bitsandbytes", "load_in_8bit": true, "llm_int8_skip_modules": ["lm_head", "mlp.down_proj"]],
    ]
    let model = try TestData.model(config)
    #expect(model.checkpointQuantization?.changes == [.quantization(.int8)])
    #expect(model.warnings.contains { $0.contains("mlp.down_proj") })
    config["quantization_config"] = ["load_in_4bit": true, "bnb_4bit_quant_type": "int4"]
    #expect(throws: ArchitectureError.self) { try TestData.model(config) }
    config["quantization_config"] = ["quant_method": "gptq", "bits": 4]
    let gptq = try TestData.model(config)
    #expect(gptq.checkpointQuantization?.changes == [])
    #expect(gptq.warnings.contains { $0.contains("gptq") })
  }
}

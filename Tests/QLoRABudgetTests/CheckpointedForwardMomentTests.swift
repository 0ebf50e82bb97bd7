import Foundation
import QLoRABudget
import Testing

/// A checkpointed layer's forward runs with grad off: each intermediate dies after its last use,
/// so attention's tensors and the MLP's are never alive together (Tests/Calibration/measured/
/// README.md, issue 21's checkpointed forward).
@Suite struct CheckpointedForwardMomentTests {
  /// SmolLM2-360M's dimensions (measure_step.py MODELS) with `layers` layers and MLP width `intermediate`.
  static func smollm2(layers: Int, intermediate: Int = 2560) throws -> ModelArchitecture {
    try TestData.model([
      "model_type": "llama", "hidden_size": 960, "intermediate_size": intermediate, "num_hidden_layers": layers,
      "num_attention_heads": 15, "num_key_value_heads": 5, "vocab_size": 49152, "tie_word_embeddings": true,
    ])
  }

  /// The measured case: NF4 under bf16 autocast, eager, 4,096 tokens, r32 on q/k/v/o, on the CPU.
  static func setup() -> TrainingSetup {
    var setup = TrainingSetup()
    setup.lora = LoRAConfiguration(rank: 32, targets: .modules(["q_proj", "k_proj", "v_proj", "o_proj"]), dropout: 0)
    setup.sequenceLength = 4096
    setup.batchSize = 1
    setup.gradientCheckpointing = true
    setup.attention = .eager
    setup.usesAutocast = true
    setup.platform = .cpu
    return setup
  }

  static func forward(_ model: ModelArchitecture, _ setup: TrainingSetup) throws -> Int64 {
    let profile = try MemoryEstimator.stepProfile(model: model, setup: setup)
    return try #require(profile.phases.first { $0.name == .forward }?.bytes.bytes)
  }

  /// The one-layer build's forward peak, measured in `aten::add` (`scores + mask`):
  /// Tests/Calibration/measured/physics-steps.json, `smollm2-360m-s4096-b1-r32qkvo-gc-eager-nf4-autocast`.
  /// Written out: the scaled bf16 scores 15 x 4,096^2 x 2, their fp32 copy and the fp32 sum
  /// (x 4 each), the fp32 mask 4,096^2 x 4, the kept layer input 4,096 x 960 x 4, and the
  /// attention block's tensors: the norm output, q (4,096 x 960 x 4 each), k, v (4,096 x 320 x 4
  /// each) and k, v expanded to 15 heads (4,096 x 960 x 4 each); what is left (2.4 MB) is the
  /// rotary tables and small tensors. The estimate is within 0.3% of it.
  @Test func eagerScoreMomentHoldsOnlyAttentionsTensors() throws {
    let scores: Int64 = 15 * 4096 * 4096
    let tokenRow: Int64 = 4096 * 960 * 4
    let attentionTensors = 2 * tokenRow + 2 * 4096 * 320 * 4 + 2 * tokenRow
    let written = scores * 2 + 2 * scores * 4 + 4096 * 4096 * 4 + tokenRow + attentionTensors
    let measured: Int64 = 2_675_241_920
    #expect(measured - written == 2_421_696)
    let estimate = try Self.forward(try Self.smollm2(layers: 1), Self.setup())
    #expect(abs(Double(estimate) / Double(measured) - 1) <= 0.003, "\(estimate)")
  }

  /// At the score moment the MLP's tensors do not exist yet: doubling the MLP's width leaves the
  /// checkpointed forward's moment where it is (the former working set grew by three
  /// 4,096 x 2,560 x 4 B tensors).
  @Test func mlpWidthDoesNotReachTheScoreMoment() throws {
    let narrow = try Self.forward(try Self.smollm2(layers: 1), Self.setup())
    let wide = try Self.forward(try Self.smollm2(layers: 1, intermediate: 5120), Self.setup())
    let dequantGrowth: Int64 = 5120 * 960 * 2 - 2560 * 960 * 2
    #expect(wide - narrow <= dequantGrowth, "\(wide - narrow)")
  }
}

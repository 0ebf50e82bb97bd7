import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// DeepSeek-V3's multi-head latent attention and MoE layout, written out from
/// `modeling_deepseek_v3.py` (transformers 5.25.0 and 4.57.1) and the published config.
@Suite struct DeepSeekV3Tests {
  static func preset() throws -> ModelArchitecture { try PresetCatalog.bundled.model(named: "deepseek-v3") }

  /// Per layer: q_a_proj 7168 x 1536, q_b_proj 1536 x (128 heads x 192), kv_a_proj_with_mqa
  /// 7168 x (512 + 64), kv_b_proj 512 x (128 x (128 + 128)), o_proj (128 x 128) x 7168; norms
  /// 2 x 7168 + q_a_layernorm 1536 + kv_a_layernorm 512. Layers 0-2: SwiGLU of 18432; layers 3-60:
  /// 256 experts and one shared expert of 2048, a 256 x 7168 router. Untied 129280 x 7168
  /// embedding and lm_head, final norm. The published total is 671B (the Hub's 685B adds the
  /// multi-token-prediction layer transformers does not load).
  @Test func parametersAreTheSumOfTheShapes() throws {
    let h: Int64 = 7168
    let attention = h * 1536 + 1536 * 128 * 192 + h * 576 + 512 * 128 * 256 + 128 * 128 * h
    let norms = 2 * h + 1536 + 512
    let dense = 3 * h * 18432
    let sparse = 256 * 3 * h * 2048 + 3 * h * 2048 + 256 * h
    let total = 61 * (attention + norms) + 3 * dense + 58 * sparse + 2 * 129_280 * h + h
    #expect(try Self.preset().parameterCount == total)
    #expect(total == 671_026_404_352)
  }

  @Test func latentAttentionWidths() throws {
    let model = try Self.preset()
    let mla = try #require(model.latentAttention)
    #expect(model.headDimension == 192)
    #expect(model.queryWidth == 128 * 192)
    #expect(model.attentionOutputWidth == 128 * 128)
    // transformers 5 caches the compressed latent: kv_lora_rank + qk_rope_head_dim per token.
    #expect(model.cachedKeyValueWidth == 512 + 64)
    #expect(mla.queryRank == 1536)
    let inputs = Dictionary(model.inventory.linears.map { ($0.path, $0.input) }) { first, _ in first }
    #expect(inputs["self_attn.q_b_proj"] == .queryLatent)
    #expect(inputs["self_attn.kv_b_proj"] == .keyValueLatent)
    #expect(inputs["self_attn.q_a_proj"] == .attentionInput)
    #expect(inputs["self_attn.kv_a_proj_with_mqa"] == .attentionInput)
    #expect(inputs["self_attn.o_proj"] == .attentionOutput)
  }

  /// `q_lora_rank: null` (DeepSeek-V2-Lite, Moonlight) is one `q_proj` of hidden x heads x 192 and
  /// no q_a_layernorm; an absent key is DeepseekV3Config's default, 1536.
  static let smallKeys = """
    "model_type": "deepseek_v3", "hidden_size": 2048, "num_hidden_layers": 2, "num_attention_heads": 16,
    "intermediate_size": 8192, "moe_intermediate_size": 1024, "n_routed_experts": 8, "num_experts_per_tok": 2,
    "first_k_dense_replace": 1, "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
    "v_head_dim": 128, "vocab_size": 1000
    """

  @Test func aNullQueryRankIsOneQueryProjection() throws {
    let keys = Self.smallKeys
    let plain = try ModelArchitecture(configData: Data("{\(keys), \"q_lora_rank\": null}".utf8), name: "v2-lite-like")
    let names = Set(plain.inventory.linears.map(\.name))
    #expect(names.contains("q_proj") && !names.contains("q_a_proj") && !names.contains("q_b_proj"))
    let query = try #require(plain.inventory.linears.first { $0.name == "q_proj" })
    #expect(query.outFeatures == 16 * 192 && query.inFeatures == 2048)
    #expect(!plain.inventory.norms.contains { $0.path.hasSuffix("q_a_layernorm") })
    let defaulted = try ModelArchitecture(configData: Data("{\(keys)}".utf8), name: "default")
    #expect(defaulted.latentAttention?.queryRank == 1536)
  }

  /// Under transformers 5 (hf-peft) peft rewrites all-linear into expert target_parameters: the
  /// estimate says it does not count them; named attention projections get no such note.
  @Test func thePeftExpertRewriteIsNoted() throws {
    let model = try ModelArchitecture(configData: Data("{\(Self.smallKeys)}".utf8), name: "small")
    var setup = TrainingSetup()
    setup.sequenceLength = 512
    let noted = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    #expect(noted.notes.contains { $0.contains("target_parameters") })
    setup.lora.targets = .modules(["q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"])
    let named = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    #expect(!named.notes.contains { $0.contains("target_parameters") })
    setup.recipe = .hfPeftTransformers4
    setup.lora.targets = .allLinear
    let four = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    #expect(!four.notes.contains { $0.contains("target_parameters") })
  }
}

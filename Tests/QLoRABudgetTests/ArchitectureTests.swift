import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

@Suite struct ArchitectureTests {
  static var llamaLike: [String: Any] {
    [
      "model_type": "llama", "hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 3,
      "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 1000,
    ]
  }

  @Test func aLlamaLayerIsSevenProjectionsAndTwoNorms() throws {
    let model = try TestData.model(Self.llamaLike)
    // Per layer: q 64x64, k 64x16, v 64x16, o 64x64, gate/up/down 64x176; norms 2x64.
    let layer: Int64 = 64 * 64 * 2 + 64 * 16 * 2 + 3 * 64 * 176 + 2 * 64
    let embeddings: Int64 = 2 * 1000 * 64  // untied: embed_tokens and lm_head
    #expect(model.parameterCount == 3 * layer + embeddings + 64)
    #expect(
      ModuleInventory.names(of: model.inventory.linears) == [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
      ])
    #expect(model.inventory.bufferBytes == ByteCount(2 * 4 * 4))  // inv_freq + original, head_dim/2 fp32 each
  }

  @Test(arguments: ["granite", "kimi_k2", "gemma3n", ""])
  func aModelTypeThatIsNotModelledIsRefused(_ type: String) throws {
    var config = Self.llamaLike
    config["model_type"] = type
    #expect(throws: ArchitectureError.unmodelledType(type, model: "test")) { try TestData.model(config) }
    config.removeValue(forKey: "model_type")
    #expect(throws: ArchitectureError.unmodelledType("", model: "test")) { try TestData.model(config) }
  }

  @Test func theRefusalNamesTheTypeAndEveryModelledFamily() {
    let message = ArchitectureError.unmodelledType("kimi_k2", model: "m").description
    #expect(message.contains("'kimi_k2'"))
    let families = [
      "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3", "mixtral", "qwen2_moe", "qwen3_moe",
      "glm4_moe", "deepseek_v3", "gpt_oss", "olmo2", "gpt2",
    ]
    for family in families {
      #expect(message.contains(family))
    }
  }

  @Test func anExplicitFamilyReadsAnUnmodelledTypeAsThatFamilyAndSaysSo() throws {
    var config = Self.llamaLike
    config["model_type"] = "granite"
    let data = try JSONSerialization.data(withJSONObject: config)
    let readAsLlama = try ModelArchitecture(configData: data, name: "test", readAs: "llama")
    let llama = try TestData.model(Self.llamaLike)
    #expect(readAsLlama.parameterCount == llama.parameterCount)
    #expect(readAsLlama.modelType == "granite")
    #expect(readAsLlama.readAs == "llama")
    #expect(readAsLlama.warnings.count == 1)
    #expect(readAsLlama.warnings.first?.contains("'granite' read as 'llama'") == true)
    #expect(llama.readAs == nil && llama.warnings.isEmpty)
    #expect(throws: ArchitectureError.unknownFamily("granite")) {
      try ModelArchitecture(configData: data, name: "test", readAs: "granite")
    }
  }

  @Test(arguments: ["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size"])
  func aMissingKeyIsNamed(_ key: String) throws {
    var config = Self.llamaLike
    config.removeValue(forKey: key)
    #expect(throws: ArchitectureError.missingKey(key, model: "test")) { try TestData.model(config) }
  }

  /// Values as JSON text.
  @Test(arguments: [
    ("hidden_size", "64.5"), ("hidden_size", "\"64\""), ("num_hidden_layers", "0"),
    ("vocab_size", "1e12"), ("num_key_value_heads", "3"), ("tie_word_embeddings", "\"yes\""),
  ])
  func anInvalidValueIsNamed(_ key: String, _ json: String) throws {
    var config = Self.llamaLike
    let value = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
    config[key] = value
    do {
      _ = try TestData.model(config)
      Issue.record("accepted \(key) = \(value)")
    } catch let error as ArchitectureError {
      #expect(error.description.contains("'\(key)'"))
    }
  }

  @Test func malformedJSONIsAnErrorNotACrash() {
    for text in ["", "{", "[1, 2]", "{\"model_type\": }", "null", "\u{FF}\u{FE}"] {
      #expect(throws: ArchitectureError.self) { try ModelArchitecture(configData: Data(text.utf8), name: "x") }
    }
  }

  @Test func qwen2AlwaysHasQueryKeyValueBiases() throws {
    var config = Self.llamaLike
    config["model_type"] = "qwen2"
    let model = try TestData.model(config)
    // q (64) + k (16) + v (16) biases per layer; o_proj has none.
    #expect(model.inventory.linearBiasElements == 3 * (64 + 16 + 16))
  }

  @Test func phi3FusesQueryKeyValueAndGateUp() throws {
    var config = Self.llamaLike
    config["model_type"] = "phi3"
    let model = try TestData.model(config)
    let shapes = model.inventory.linears.map { "\($0.name) \($0.inFeatures)x\($0.outFeatures)" }
    #expect(shapes == ["qkv_proj 64x96", "o_proj 64x64", "gate_up_proj 64x352", "down_proj 176x64"])
    // peft 0.21.2 has no default targets for phi3 (PeftDefaultTargetsTests).
    #expect(model.peftDefaultTargets == nil)
  }

  /// Phi-4-mini's shape: phi3 with GQA, tied embeddings and rotary over 0.75 of head_dim.
  @Test func phi3WithPartialRotaryAndTiedEmbeddings() throws {
    var config = Self.llamaLike
    config["model_type"] = "phi3"
    config["partial_rotary_factor"] = 0.75
    config["tie_word_embeddings"] = true
    let model = try TestData.model(config)
    // head_dim 8, rotary over 6: inv_freq + original, 3 fp32 each.
    #expect(model.inventory.bufferBytes == ByteCount(2 * 3 * 4))
    #expect(model.inventory.lmHeadElements == 0)
    // qkv 64 -> 64 + 2 x 16, o 64x64, gate_up 64 -> 352, down 176 -> 64; 2 norms; embeddings once.
    #expect(model.parameterCount == 3 * (64 * 96 + 64 * 64 + 64 * 352 + 176 * 64 + 2 * 64) + 64 + 1000 * 64)
  }

  @Test func gemma3HasFourNormsPerLayerAndPerHeadQueryKeyNorms() throws {
    var config = Self.llamaLike
    config["model_type"] = "gemma3_text"
    config["head_dim"] = 16
    let model = try TestData.model(config)
    // 4 hidden-size norms + q_norm and k_norm of head_dim, per layer; final norm; tied embeddings.
    #expect(model.inventory.normElements == 3 * (4 * 64 + 2 * 16) + 64)
    #expect(model.inventory.lmHeadElements == 0)
  }

  @Test func qwenMoESparseLayersFollowStepAndDenseOnlyList() throws {
    let config: [String: Any] = [
      "model_type": "qwen2_moe", "hidden_size": 32, "intermediate_size": 96, "moe_intermediate_size": 16,
      "shared_expert_intermediate_size": 48, "num_experts": 4, "num_experts_per_tok": 2,
      "num_hidden_layers": 6, "decoder_sparse_step": 2, "mlp_only_layers": [3],
      "num_attention_heads": 4, "vocab_size": 100,
    ]
    let model = try TestData.model(config)
    // Sparse when (i + 1) % 2 == 0 and i not in [3]: layers 1 and 5; dense: 0, 2, 3, 4.
    let moe = try #require(model.layout.mixtureOfExperts)
    #expect(moe.sparseLayerCount == 2)
    let experts = model.inventory.linears.filter { $0.role == .expert }
    #expect(experts.allSatisfy { $0.instanceCount == 2 * 4 })
    let dense = model.inventory.linears.first { $0.path == "mlp.gate_proj" }
    #expect(dense?.instanceCount == 4)
    let shared = model.inventory.linears.first { $0.path == "mlp.shared_expert.up_proj" }
    #expect(shared?.outFeatures == 48)
  }

  /// GLM-4 MoE (transformers modeling_glm4_moe.py): dense layers before first_k_dense_replace,
  /// then routed experts, a shared MLP of n_shared_experts x moe_intermediate_size, and a router
  /// that is a bare parameter (never quantized or adapted) with an fp32 score-correction bias.
  @Test func glm4MoELayersExpertsSharedExpertsAndRouter() throws {
    let config: [String: Any] = [
      "model_type": "glm4_moe", "hidden_size": 64, "intermediate_size": 176, "moe_intermediate_size": 32,
      "n_routed_experts": 4, "n_shared_experts": 2, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
      "num_hidden_layers": 3, "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 16,
      "attention_bias": true, "use_qk_norm": true, "partial_rotary_factor": 0.5, "vocab_size": 1000,
    ]
    let model = try TestData.model(config)
    // Attention, every layer: q 64x128, k and v 64x32, o 128x64; biases on q/k/v only; q/k norms of 16.
    let attention: Int64 = 64 * 128 + 2 * 64 * 32 + 128 * 64 + (128 + 32 + 32) + 2 * 16
    let dense: Int64 = 3 * 64 * 176  // layer 0
    // Layers 1 and 2: router 4x64, 4 experts of 3 x 64x32, shared MLP of 2 x 32 = 64.
    let sparse: Int64 = 4 * 64 + 4 * 3 * 64 * 32 + 3 * 64 * 64
    let norms: Int64 = 3 * 2 * 64 + 64
    #expect(model.parameterCount == 3 * attention + dense + 2 * sparse + norms + 2 * 1000 * 64)
    // rotary over 8 of 16 dims: inv_freq + original, 4 fp32 each; e_score_correction_bias 4 fp32 x 2 layers.
    #expect(model.inventory.bufferBytes == ByteCount(2 * 4 * 4 + 2 * 4 * 4))
    let router = try #require(model.inventory.linears.first { $0.path == "mlp.gate" })
    #expect(router.role == .routerParameter && router.instanceCount == 2)
    let shared = try #require(model.inventory.linears.first { $0.path == "mlp.shared_experts.up_proj" })
    #expect(shared.outFeatures == 64 && shared.role == .projection)
    // all-linear: 4 attention projections x 3 + dense MLP 3 + shared MLP 3 x 2 (transformers 5);
    // transformers 4 adds the experts, 3 x 4 x 2, and never the router.
    let tf5 = try model.adaptedModules(.allLinear, roles: Recipe.hfPeft.linearRoles)
    let tf4 = try model.adaptedModules(.allLinear, roles: Recipe.hfPeftTransformers4.linearRoles)
    #expect(tf5.reduce(0) { $0 + $1.instanceCount } == 21)
    #expect(tf4.reduce(0) { $0 + $1.instanceCount } == 45)
    #expect(!tf4.contains { $0.path == "mlp.gate" })
  }

  @Test func glm4MoEDefaultsFollowItsConfigClass() throws {
    // Glm4MoeConfig: partial_rotary_factor 0.5, first_k_dense_replace 1, n_shared_experts 1, no q/k norm.
    let config: [String: Any] = [
      "model_type": "glm4_moe", "hidden_size": 64, "intermediate_size": 176, "moe_intermediate_size": 32,
      "n_routed_experts": 4, "num_experts_per_tok": 2, "num_hidden_layers": 3, "num_attention_heads": 4,
      "vocab_size": 1000,
    ]
    let model = try TestData.model(config)
    #expect(model.layout.positionEmbedding == .rotary(dimension: 8, embeddingCount: 1))  // 16 x 0.5
    #expect(model.layout.mixtureOfExperts?.sparseLayerCount == 2)
    #expect(model.layout.mixtureOfExperts?.sharedExpertIntermediateSize == 32)
    #expect(model.layout.queryKeyNorm == .none)
    #expect(model.inventory.linearBiasElements == 0)
  }

  /// gpt-oss (transformers modeling_gpt_oss.py): biased q/k/v/o, a sink per query head, and in
  /// every layer a biased parameter router and fused, biased 3-D experts, in transformers 4 and 5.
  @Test func gptOssExpertsRouterAndSinksAreParameters() throws {
    let config: [String: Any] = [
      "model_type": "gpt_oss", "hidden_size": 64, "intermediate_size": 32, "num_local_experts": 4,
      "experts_per_token": 2, "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 2,
      "head_dim": 16, "vocab_size": 1000,
    ]
    let model = try TestData.model(config)
    // q 64x128, k and v 64x32, o 128x64, all biased; 8 sinks.
    let attention: Int64 = 64 * 128 + 128 + 2 * (64 * 32 + 32) + 128 * 64 + 64 + 8
    // router 4x64 + 4; gate_up 4 x (64 -> 2 x 32) + biases; down 4 x (32 -> 64) + biases.
    let experts: Int64 = 4 * 64 + 4 + 4 * (64 * 64 + 64) + 4 * (32 * 64 + 64)
    #expect(model.parameterCount == 2 * (attention + experts + 2 * 64) + 64 + 2 * 1000 * 64)
    #expect(model.layout.mixtureOfExperts?.expertsPerToken == 2)
    let fused = try #require(model.inventory.linears.first { $0.path == "mlp.experts.gate_up_proj" })
    #expect(fused.role == .expertParameter && fused.outFeatures == 64 && fused.instanceCount == 8)
    // Only q/k/v/o are nn.Linear, in either transformers version: 4 x 2 layers.
    for recipe in [Recipe.hfPeft, .hfPeftTransformers4, .unsloth] {
      #expect(try model.adaptedModules(.allLinear, roles: recipe.linearRoles).reduce(0) { $0 + $1.instanceCount } == 8)
    }
  }

  /// Fused expert parameters count toward the 10^15 limit too, and the error names the expert count.
  @Test func tooManyGptOssExpertsAreRefusedByName() throws {
    let config: [String: Any] = [
      "model_type": "gpt_oss", "hidden_size": 1 << 16, "intermediate_size": 1 << 16, "num_local_experts": 1 << 20,
      "experts_per_token": 2, "num_hidden_layers": 4, "num_attention_heads": 8, "vocab_size": 1000,
    ]
    #expect(
      throws: ArchitectureError.invalidValue(
        key: "num_local_experts", value: String(1 << 20), reason: "the model would have more than 10^15 parameters",
        model: "test")
    ) { try TestData.model(config) }
  }

  @Test func multimodalConfigsAreReadFromTextConfig() throws {
    let config: [String: Any] = [
      "model_type": "gemma3",
      "text_config": Self.llamaLike.merging(["model_type": "gemma3_text", "head_dim": 8]) { $1 },
    ]
    let model = try TestData.model(config)
    #expect(model.modelType == "gemma3_text")
    #expect(model.hiddenSize == 64)
  }

  @Test func explicitHeadDimensionWins() throws {
    var config = Self.llamaLike
    config["head_dim"] = 32  // 8 heads x 32 = 256 != hidden 64, as in Qwen3-0.6B
    let model = try TestData.model(config)
    let q = try #require(model.inventory.linears.first { $0.name == "q_proj" })
    #expect(q.outFeatures == 256)
  }

  @Test func absurdlyLargeModelsAreRefused() {
    var config = Self.llamaLike
    config["hidden_size"] = 1 << 26
    config["intermediate_size"] = 1 << 26
    config["num_hidden_layers"] = 1 << 20
    config["num_attention_heads"] = 1 << 10
    config["num_key_value_heads"] = 1 << 10
    #expect(throws: ArchitectureError.self) { try TestData.model(config) }
  }
}

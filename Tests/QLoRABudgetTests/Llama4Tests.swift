import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// Llama 4 (`llama4`, `llama4_text`): transformers 4.57.1 and 5.25.0 `modeling_llama4.py`.
@Suite struct Llama4Tests {
  static var tiny: [String: Any] {
    [
      "model_type": "llama4_text", "hidden_size": 64, "intermediate_size": 32, "intermediate_size_mlp": 128,
      "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
      "num_local_experts": 8, "num_experts_per_tok": 1, "interleave_moe_layer_step": 2, "vocab_size": 1000,
    ]
  }

  /// Layers 1 and 3 are sparse (range(step - 1, layers, step)), 0 and 2 dense.
  @Test func interleavedLayersRouterFusedExpertsAndSharedExpert() throws {
    let model = try TestData.model(Self.tiny)
    // q 64x64, k and v 64x32, o 64x64; the q/k norm is weightless; two RMSNorms of 64.
    let attention: Int64 = 64 * 64 + 2 * 64 * 32 + 64 * 64 + 2 * 64
    let dense: Int64 = 3 * 64 * 128
    // router 64 -> 8; gate_up 8 x (64 -> 2 x 32); down 8 x (32 -> 64); shared expert 3 x 64 x 32.
    let sparse: Int64 = 64 * 8 + 8 * 64 * 64 + 8 * 32 * 64 + 3 * 64 * 32
    #expect(model.parameterCount == 4 * attention + 2 * dense + 2 * sparse + 64 + 2 * 1000 * 64)
    let paths = model.inventory.linears.map(\.path)
    #expect(paths.contains("feed_forward.gate_proj") && paths.contains("feed_forward.shared_expert.down_proj"))
    #expect(!paths.contains { $0.hasPrefix("mlp.") })
    let router = try #require(model.inventory.linears.first { $0.path == "feed_forward.router" })
    #expect(router.role == .routerLinearSubclass && router.instanceCount == 2 && router.outFeatures == 8)
    // Llama4TextMoe repeats every token to all 8 experts (hidden_states.repeat(num_experts, 1)).
    #expect(
      model.layout.mixtureOfExperts?.expertRowsPerToken == 8 && model.layout.mixtureOfExperts?.expertsPerToken == 1)
    let fused = try #require(model.inventory.linears.first { $0.path == "feed_forward.experts.gate_up_proj" })
    #expect(fused.role == .expertParameter && fused.outFeatures == 64 && fused.instanceCount == 16 && !fused.hasBias)
  }

  /// The router is adapted under every recipe (peft's isinstance) and quantized under none.
  @Test func theRouterIsAdaptedButNeverQuantized() throws {
    let model = try TestData.model(Self.tiny)
    for recipe in Recipe.all {
      #expect(!model.inventory.linears(in: recipe.linearRoles).contains { $0.name == "router" }, "\(recipe.name)")
      let adapted = try model.adaptedModules(.allLinear, roles: recipe.linearRoles)
      // q/k/v/o x 4, dense gate/up/down x 2, shared gate/up/down x 2, router x 2; never the fused experts.
      #expect(adapted.reduce(0) { $0 + $1.instanceCount } == 16 + 6 + 6 + 2, "\(recipe.name)")
    }
    var setup = TrainingSetup()
    setup.quantization = .nf4
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    #expect(estimate.notes.contains { $0.contains("feed_forward.router") && $0.contains("exclude_modules") })
    setup.lora = LoRAConfiguration(rank: 16, targets: .modules(["q_proj", "k_proj", "v_proj", "o_proj"]))
    #expect(
      !(try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)).notes.contains { $0.contains("router") })
  }

  @Test func moeLayersWhenListedWin() throws {
    var config = Self.tiny
    config["moe_layers"] = [0, 1, 2, 9]  // 9 is past the last layer: transformers never reaches it
    let model = try TestData.model(config)
    #expect(model.layout.mixtureOfExperts?.sparseLayerCount == 3)
    #expect(model.inventory.linears.first { $0.path == "feed_forward.gate_proj" }?.instanceCount == 1)
  }

  /// The multimodal config nests the text model; peft looks up the wrapper's `llama4` (q_proj,
  /// v_proj), while the text-only `llama4_text` has no entry in peft 0.21.2.
  @Test func theWrapperIsReadFromTextConfigAndKeepsPeftsDefault() throws {
    let wrapped = try TestData.model([
      "model_type": "llama4", "text_config": Self.tiny, "vision_config": [:] as [String: Any],
    ])
    #expect(wrapped.modelType == "llama4_text" && wrapped.wrapperModelType == "llama4")
    #expect(wrapped.parameterCount == (try TestData.model(Self.tiny)).parameterCount)
    #expect(try wrapped.adaptedModules(.peftDefault).map(\.name) == ["q_proj", "v_proj"])
    #expect(throws: SetupError.noPeftDefaultTargets(modelType: "llama4_text", model: "test")) {
      try TestData.model(Self.tiny).adaptedModules(.peftDefault)
    }
  }

  @Test func aMissingDenseSizeIsNamed() throws {
    var config = Self.tiny
    config["intermediate_size_mlp"] = nil
    #expect(throws: ArchitectureError.missingKey("intermediate_size_mlp", model: "test")) { try TestData.model(config) }
  }
}

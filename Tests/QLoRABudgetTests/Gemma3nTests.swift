import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// Gemma 3n (`gemma3n_text`, and `gemma3n` with the text model under `text_config`):
/// transformers 5.25.0 `modeling_gemma3n.py`.
///
/// The presets are the multimodal checkpoints (`Gemma3nForConditionalGeneration`, towers
/// included); their totals are checked against transformers on the meta device by
/// `MetaDeviceCountTests` (`Fixtures/families/meta_counts.py gemma-3n-e2b gemma-3n-e4b`:
/// 5,418,464,192 and 7,818,517,072); here the same totals are written out from the config.
@Suite struct Gemma3nTests {
  /// A small config: 6 layers, the last 1 KV-shared, the first 2 sparse, two intermediate sizes.
  static var tiny: [String: Any] {
    [
      "model_type": "gemma3n_text", "hidden_size": 64, "intermediate_size": [128, 128, 128, 96, 96, 96],
      "num_hidden_layers": 6, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
      "vocab_size": 1000, "vocab_size_per_layer_input": 500, "hidden_size_per_layer_input": 8,
      "laurel_rank": 4, "altup_num_inputs": 4, "num_kv_shared_layers": 1,
      "activation_sparsity_pattern": [0.95, 0.95, 0, 0, 0, 0],
    ]
  }

  /// E2B (30 layers, 10 shared, intermediate 8,192) and E4B (35, 15, 16,384), text models of
  /// 4,435,182,688 and 6,835,235,568 parameters (`Gemma3nForCausalLM` on the meta device): hidden 2,048,
  /// 8 heads and 2 KV heads of 256, vocabulary 262,400 (tied), per-layer vocabulary 262,144 x 256,
  /// Laurel rank 64, 4 AltUp inputs.
  @Test(arguments: [("gemma-3n-e2b", 30, 10, 8192, 5_418_464_192), ("gemma-3n-e4b", 35, 15, 16384, 7_818_517_072)])
  func presetTotalsWrittenOutFromTheConfig(
    _ name: String, _ layers: Int64, _ shared: Int64, _ intermediate: Int64, _ meta: Int64
  ) throws {
    let model = try PresetCatalog.bundled.model(named: name)
    let h: Int64 = 2048
    let p: Int64 = 256
    // q and o (2,048 x 2,048 each), gate/up/down, AltUp (4x4 + 4x16 + 2,048x4), Laurel (2 x
    // 2,048 x 64), per-layer gate and projection (2 x 2,048 x 256), eight hidden-wide norms
    // (four layer norms, router_norm, correct_output_scale, post_laurel_norm,
    // post_per_layer_input_norm) and q_norm (256).
    let everyLayer = 2 * h * h + 3 * h * intermediate + (16 + 64 + h * 4) + 2 * h * 64 + 2 * h * p + 8 * h + 256
    // k and v (2,048 x 512 each) and k_norm only where the layer owns its keys and values.
    let owningLayer = 2 * h * 512 + 256
    // embed_tokens, embed_tokens_per_layer, per_layer_model_projection, 3 + 3 AltUp
    // projections, the final norm and per_layer_projection_norm.
    let modelLevel = 262_400 * h + 262_144 * layers * p + h * layers * p + 6 * h * h + h + p
    let text = layers * everyLayer + (layers - shared) * owningLayer + modelLevel
    #expect(model.parameterCount == text + Self.towers(textHidden: h))
    #expect(model.parameterCount == meta)
  }

  /// The towers of Gemma3nConfig's defaults (``Gemma3nTowers``), written out: MobileNetV5
  /// (294,126,912, timm on the meta device); the audio conformer (hidden 1,536, 12 blocks, 8
  /// heads, kernel 5): per block 9 hidden-wide norms, two feed-forward modules (2 x 2 x 1,536 x
  /// 6,144), q/k/v/pos_proj/post (5 x 1,536^2), linear_start (1,536 x 3,072) and linear_end,
  /// per_dim_scale (192) and the depthwise kernel (1,536 x 5); the subsampling convolutions
  /// (1 -> 128 -> 32 channels, 3 x 3) with their norms and input_proj_linear (32 x 32 -> 1,536);
  /// the embedders (128 x their hidden, two norms, a projection to the text hidden).
  static func towers(textHidden: Int64) -> Int64 {
    let a: Int64 = 1536
    let block = 9 * a + 2 * 2 * a * 6144 + 5 * a * a + a * 2 * a + a * a + 192 + a * 5
    let subsampling: Int64 = 128 * 9 + 128 + 32 * 128 * 9 + 32 + 32 * 32 * a
    let embedVision: Int64 = 128 * 2048 + 2 * 2048 + 2048 * textHidden
    let embedAudio = 128 * a + 2 * a + a * textHidden
    return 294_126_912 + 12 * block + subsampling + embedVision + embedAudio
  }

  @Test func kvSharedLayersBuildNoKeyOrValueProjections() throws {
    let model = try TestData.model(Self.tiny)
    func count(_ path: String) -> Int64 {
      model.inventory.linears.filter { $0.path == path }.reduce(0) { $0 + $1.instanceCount }
    }
    #expect(count("self_attn.q_proj") == 6 && count("self_attn.k_proj") == 5 && count("self_attn.v_proj") == 5)
    #expect(model.inventory.norms.first { $0.path == "self_attn.k_norm" }?.instanceCount == 5)
    // Two MLP groups, by intermediate size; the largest is the dense MLP width the step takes.
    let gates = model.inventory.linears.filter { $0.path == "mlp.gate_proj" }
    #expect(gates.map(\.outFeatures) == [128, 96] && gates.map(\.instanceCount) == [3, 3])
    #expect(model.intermediateSize == 128)
    #expect(model.layout.gemma3n?.sparseActivationLayers == 2)
    // 5 of 6 layers sliding, the sixth full: two rotary types.
    #expect(model.layout.gemma3n?.layerTypeCount == 2)
    #expect(model.inventory.perLayerEmbeddingElements == 500 * 6 * 8)
  }

  /// transformers 5.25 + bitsandbytes quantize every nn.Linear but lm_head, and the first
  /// training forward then fails on AltUp's in-place clamp of `prediction_coefs`' weight; a
  /// working run keeps the two coefficient Linears out of bitsandbytes (measured on a tiny
  /// model, docs/models.md). They stay adaptable by all-linear.
  @Test func theAltUpCoefficientsAreAdaptedButNeverQuantized() throws {
    let model = try TestData.model(Self.tiny)
    for recipe in Recipe.all {
      let quantized = model.quantizedLinears(in: recipe.linearRoles).map(\.name)
      #expect(!quantized.contains("correction_coefs") && !quantized.contains("prediction_coefs"), "\(recipe.name)")
      #expect(quantized.contains("modality_router") && quantized.contains("per_layer_model_projection"))
      let adapted = try model.adaptedModules(.allLinear, roles: recipe.linearRoles)
      // Per layer q, o, gate, up, down, 3 AltUp, 2 Laurel, 2 per-layer (12 x 6) + k, v (2 x 5);
      // model-level per_layer_model_projection and 3 + 3 AltUp projections.
      let instances: Int64 = adapted.reduce(0) { $0 + $1.instanceCount }
      let expected: Int64 = 12 * 6 + 2 * 5 + 7
      #expect(instances == expected, "\(recipe.name)")
    }
    var setup = TrainingSetup()
    setup.quantization = .nf4
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    // 6 x (4 x 4 + 4 x 16) coefficient elements beside the embeddings, norms and buffers: fp32.
    let unquantized = try #require(estimate.components.first { $0.kind == .unquantizedWeights })
    let inventory = model.inventory
    let buffers: Int64 = 2 * 2 * 8 * 4 + (6 + 4) * 2
    #expect(
      unquantized.bytes.bytes == 4 * (inventory.embeddingElements + inventory.normElements + 6 * (16 + 64)) + buffers)
  }

  /// The notes a text-only Gemma 3n estimate carries: what the towers would add (294,126,912 + 681,348,640 +
  /// 4,460,544 + 3,345,408 parameters, the E2B meta-device total 5,418,464,192 less the text model's
  /// 4,435,182,688), the skip list a 4-bit run needs, and under transformers 4.57 the shared layer's
  /// unused k_proj and v_proj (64 x 32 each) and k_norm (16).
  @Test func theNotesSayWhatIsNotCounted() throws {
    let model = try TestData.model(Self.tiny)
    let withTowers: Int64 = 5_418_464_192 - 4_435_182_688
    let towers: Int64 = 294_126_912 + 681_348_640 + 4_460_544 + 3_345_408
    #expect(withTowers == towers)
    var setup = TrainingSetup()
    setup.quantization = .nf4
    let notes = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil).notes
    #expect(notes.contains { $0.contains("983,281,504 parameters (about") })
    #expect(notes.contains { $0.contains("llm_int8_skip_modules") && $0.contains("prediction_coefs") })
    #expect(!notes.contains { $0.contains("4.57") && $0.contains("KV-shared") })
    setup.recipe = .hfPeftTransformers4
    let tf4 = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil).notes
    let unused: Int64 = 2 * 64 * 32 + 16
    #expect(unused == 4112)
    #expect(tf4.contains { $0.contains("4,112 parameters not counted") })
    setup.quantization = .none
    #expect(
      !(try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)).notes.contains { $0.contains("llm_int8") })
  }

  @Test func theWrapperIsReadFromTextConfigAndPeftHasNoDefault() throws {
    let wrapped = try TestData.model(["model_type": "gemma3n", "text_config": Self.tiny])
    #expect(wrapped.modelType == "gemma3n_text" && wrapped.wrapperModelType == "gemma3n")
    // The multimodal config loads the towers too (Gemma3nConfig's defaults when absent).
    #expect(wrapped.parameterCount == (try TestData.model(Self.tiny)).parameterCount + Self.towers(textHidden: 64))
    // The published towers with the published text hidden: the meta-device total less the text model's.
    let published: Int64 = 5_418_464_192 - 4_435_182_688
    #expect(Self.towers(textHidden: 2048) == published)
    #expect(throws: ArchitectureError.self) {
      try TestData.model([
        "model_type": "gemma3n", "text_config": Self.tiny, "vision_config": ["architecture": "mobilenetv5_300m_l"],
      ])
    }
    // peft 0.21.2's mapping has neither gemma3n nor gemma3n_text.
    #expect(throws: SetupError.noPeftDefaultTargets(modelType: "gemma3n", model: "test")) {
      try wrapped.adaptedModules(.peftDefault)
    }
  }

  @Test func badPerLayerListsAreNamed() throws {
    var config = Self.tiny
    config["intermediate_size"] = [128, 128]
    #expect(throws: ArchitectureError.self) { try TestData.model(config) }
    do {
      _ = try TestData.model(config)
    } catch let error as ArchitectureError {
      #expect(error.description.contains("intermediate_size") && error.description.contains("a list of 2"))
    }
    config = Self.tiny
    config["num_kv_shared_layers"] = 6
    #expect(throws: ArchitectureError.self) { try TestData.model(config) }
    config = Self.tiny
    config["activation_sparsity_pattern"] = [1.5, 0, 0, 0, 0, 0]
    #expect(throws: ArchitectureError.self) { try TestData.model(config) }
    // Every shared layer's type must be produced by an earlier layer: the one full layer is the shared one.
    config = Self.tiny
    config["layer_types"] = [String](repeating: "sliding_attention", count: 5) + ["full_attention"]
    #expect(throws: ArchitectureError.self) { try TestData.model(config) }
  }
}

import Foundation

extension ModelArchitecture {
  /// The `model_type`s whose module layout is modelled exactly. Any other type is refused
  /// (``ArchitectureError/unmodelledType(_:model:)``) unless the caller names one of these to
  /// read it as: a layout guessed silently gives a confident verdict on the wrong tensors.
  public static let knownModelTypes: [String] = [
    "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "gemma3_text", "phi3",
    "mixtral", "qwen2_moe", "qwen3_moe", "glm4_moe", "deepseek_v3", "gpt_oss", "llama4", "llama4_text", "olmo2", "gpt2",
    "gemma3n_text",
  ]

  /// The most parameters a config may describe (10^15); larger is refused, not estimated.
  public static let maximumParameterCount: Int64 = 1_000_000_000_000_000

  /// Reads a Hugging Face `config.json`.
  ///
  /// - Parameters:
  ///   - data: the file's bytes.
  ///   - name: what to call the model in output and errors (a preset or folder name).
  ///   - readAs: a modelled `model_type` to read the config as, whatever its own `model_type`
  ///     says (the user's explicit override for an architecture that is not modelled).
  /// - Throws: ``ArchitectureError`` naming the missing or invalid key, or the `model_type`
  ///   that is not modelled.
  public init(configData data: Data, name: String, readAs: String? = nil) throws(ArchitectureError) {
    let value: JSONValue
    do {
      value = try JSONValue(parsing: data)
    } catch {
      throw .malformedConfig(reason: error.description, model: name)
    }
    guard let members = value.objectValue else {
      throw .malformedConfig(reason: "the top level is not a JSON object", model: name)
    }
    try self.init(config: members, name: name, readAs: readAs)
  }

  /// Reads the members of a Hugging Face `config.json` object. Multimodal configs whose
  /// language model sits under `text_config` (Gemma 3, ...) are read from there. `readAs` as in
  /// ``init(configData:name:readAs:)``.
  package init(config members: [String: JSONValue], name: String, readAs: String? = nil) throws(ArchitectureError) {
    let checkpointQuantization = try CheckpointQuantization(config: members, model: name)
    let wrapper = members
    var members = members
    var wrapperType: String? = nil
    if let text = members["text_config"]?.objectValue {
      wrapperType = try ConfigReader(members: members, model: name).string("model_type")
      members = text.merging(members.filter { $0.key == "tie_word_embeddings" }) { inner, _ in inner }
    }
    let reader = ConfigReader(members: members, model: name)
    // Not used by the estimate, but a negative or fractional window means a broken config:
    // refused like any other dimension rather than accepted silently.
    _ = try reader.optionalDimension("sliding_window")
    let contextLength = try reader.optionalDimension("max_position_embeddings", "n_positions")
    let declared = try reader.string("model_type") ?? ""
    if let readAs, !Self.knownModelTypes.contains(readAs) {
      throw .unknownFamily(readAs)
    }
    guard let modelType = readAs ?? (Self.knownModelTypes.contains(declared) ? declared : nil) else {
      throw .unmodelledType(declared, model: name)
    }
    let type = DeclaredType(declared: declared, readAs: readAs == declared ? nil : readAs)
    if modelType == "gpt2" {
      try self.init(gpt2: reader, name: name, type: type)
    } else if modelType == "gemma3n_text" {
      try self.init(gemma3n: reader, wrapper: wrapperType == "gemma3n" ? wrapper : nil, name: name, type: type)
    } else {
      try self.init(decoder: reader, modelType: modelType, name: name, type: type)
    }
    guard Self.isWithinLimits(inventory) else {
      // Blame the count that multiplies: the experts when an expert group is what overflows.
      let expertsOverflow = layout.mixtureOfExperts != nil && Self.isWithinLimits(inventory, roles: [.projection])
      let key = expertsOverflow ? (layout.mixtureOfExperts?.expertCountKey ?? "") : "num_hidden_layers"
      let value = expertsOverflow ? String(layout.mixtureOfExperts?.expertCount ?? 0) : String(layerCount)
      throw .invalidValue(
        key: key, value: value, reason: "the model would have more than 10^15 parameters", model: name)
    }
    self.wrapperModelType = wrapperType
    self.trainedContextLength = contextLength
    var checkpoint = checkpointQuantization
    checkpoint?.resolveSkips(inventory, layers: layerCount, prefix: layerNamePrefix)
    self.checkpointQuantization = checkpoint
  }

  /// Llama-style decoders: every supported family except GPT-2.
  private init(
    decoder reader: ConfigReader, modelType: String, name: String, type: DeclaredType
  ) throws(ArchitectureError) {
    guard let family = Family(modelType: modelType) else { throw .unmodelledType(modelType, model: name) }
    let hidden = try reader.dimension("hidden_size")
    let layers = try reader.dimension("num_hidden_layers")
    let heads = try reader.dimension("num_attention_heads")
    let kvHeads = try reader.optionalDimension("num_key_value_heads") ?? heads
    guard heads % kvHeads == 0 else {
      throw .invalidValue(
        key: "num_key_value_heads", value: String(kvHeads),
        reason: "must divide num_attention_heads (\(heads))", model: name)
    }
    let latent = family == .deepseekV3 ? try Self.latentAttention(reader) : nil
    let headDimension: Int64
    if let latent {
      // DeepseekV3Config sets head_dim to qk_rope_head_dim (the rotary width); a query's and a
      // key's head is nope + rope wide.
      headDimension = latent.queryKeyHeadDimension
    } else if let explicit = try reader.optionalDimension("head_dim") {
      headDimension = explicit
    } else {
      guard hidden % heads == 0 else {
        throw .missingKey("head_dim", model: name)
      }
      headDimension = hidden / heads
    }
    let isMoE =
      ["mixtral", "qwen2_moe", "qwen3_moe", "glm4_moe", "deepseek_v3", "gpt_oss"].contains(modelType)
      || family == .llama4
    // Qwen MoE configs may give only moe_intermediate_size; the dense size is then unused.
    let intermediate: Int64
    if family == .llama4 {
      // Llama 4's dense layers are Llama4TextMLP(intermediate_size_mlp); intermediate_size is the
      // experts' and the shared expert's (modeling_llama4.py Llama4TextDecoderLayer).
      intermediate = try reader.dimension("intermediate_size_mlp")
    } else if isMoE, !reader.has("intermediate_size") {
      intermediate = try reader.dimension("moe_intermediate_size")
    } else {
      intermediate = try reader.dimension("intermediate_size")
    }
    let vocabulary = try reader.dimension("vocab_size")
    let tied = try reader.bool("tie_word_embeddings", default: family.tiesEmbeddingsByDefault)
    let rotaryFraction = try reader.fraction("partial_rotary_factor", default: family.rotaryFractionByDefault)
    // MLA rotates only the qk_rope_head_dim part (DeepseekV3RotaryEmbedding's dim is head_dim, set to it).
    let rotaryDimension = latent?.rotaryHeadDimension ?? Int64((Double(headDimension) * rotaryFraction).rounded(.down))

    let attention: DecoderLayout.Attention
    if let latent { attention = .latent(latent) } else { attention = try family.attention(reader) }
    let layout = DecoderLayout(
      attention: attention,
      feedForward: family == .phi3 ? .fusedGateUp : .gated(bias: try reader.bool("mlp_bias", default: false)),
      queryKeyNorm: try family.queryKeyNorm(reader),
      normsPerLayer: family.normsPerLayer,
      normHasBias: false,
      normReturnsInputDtype: [.gemma, .gemma2, .gemma3].contains(family),
      positionEmbedding: .rotary(dimension: rotaryDimension, embeddingCount: family == .gemma3 ? 2 : 1),
      rotaryEndsInConcatenation: [.phi3, .glm4MoE].contains(family),
      hasAttentionSinks: family == .gptOss,
      feedForwardPrefix: family == .llama4 ? "feed_forward" : "mlp",
      mixtureOfExperts: isMoE ? try Self.mixtureOfExperts(reader, modelType: modelType, layers: layers) : nil)
    self.init(
      name: name, type: type, hiddenSize: hidden, layerCount: layers, attentionHeadCount: heads,
      keyValueHeadCount: kvHeads, headDimension: headDimension, intermediateSize: intermediate,
      vocabularySize: vocabulary, tiesWordEmbeddings: tied, layout: layout)
  }

  /// GPT-2: `n_embd`, `n_layer`, `n_head`, `n_positions`, `n_inner` (null means 4 x n_embd).
  private init(gpt2 reader: ConfigReader, name: String, type: DeclaredType) throws(ArchitectureError) {
    let hidden = try reader.dimension("n_embd", "hidden_size")
    let heads = try reader.dimension("n_head", "num_attention_heads")
    guard hidden % heads == 0 else {
      throw .invalidValue(key: "n_head", value: String(heads), reason: "must divide n_embd (\(hidden))", model: name)
    }
    let layout = DecoderLayout(
      attention: .gpt2, feedForward: .plain, queryKeyNorm: .none, normsPerLayer: ["ln_1", "ln_2"],
      normHasBias: true,
      positionEmbedding: .learned(positions: try reader.dimension("n_positions", "max_position_embeddings")),
      rotaryEndsInConcatenation: false, mixtureOfExperts: nil)
    self.init(
      name: name, type: type, hiddenSize: hidden,
      layerCount: try reader.dimension("n_layer", "num_hidden_layers"), attentionHeadCount: heads,
      keyValueHeadCount: heads, headDimension: hidden / heads,
      intermediateSize: try reader.optionalDimension("n_inner") ?? 4 * hidden,
      vocabularySize: try reader.dimension("vocab_size"),
      tiesWordEmbeddings: try reader.bool("tie_word_embeddings", default: true), layout: layout)
  }

  private static func mixtureOfExperts(
    _ reader: ConfigReader, modelType: String, layers: Int64
  ) throws(ArchitectureError) -> MixtureOfExperts {
    let moe = try decodedMixtureOfExperts(reader, modelType: modelType, layers: layers)
    guard moe.expertsPerToken <= moe.expertCount else {
      throw .invalidValue(
        key: "num_experts_per_tok", value: String(moe.expertsPerToken),
        reason: "more than the \(moe.expertCount) experts", model: reader.model)
    }
    return moe
  }

  private static func decodedMixtureOfExperts(
    _ reader: ConfigReader, modelType: String, layers: Int64
  ) throws(ArchitectureError) -> MixtureOfExperts {
    if modelType == "mixtral" {
      return MixtureOfExperts(
        style: .mixtral, expertCount: try reader.dimension("num_local_experts"),
        expertsPerToken: try reader.dimension("num_experts_per_tok"),
        expertIntermediateSize: try reader.dimension("intermediate_size"),
        sharedExpertIntermediateSize: 0, sparseLayerCount: layers)
    }
    if modelType == "gpt_oss" {
      // Every layer is sparse; each expert is intermediate_size wide (modeling_gpt_oss.py
      // GptOssExperts); num_experts_per_tok is GptOssConfig's alias of experts_per_token.
      return MixtureOfExperts(
        style: .gptOss, expertCount: try reader.dimension("num_local_experts"),
        expertsPerToken: try reader.dimension("num_experts_per_tok", "experts_per_token"),
        expertIntermediateSize: try reader.dimension("intermediate_size"),
        sharedExpertIntermediateSize: 0, sparseLayerCount: layers)
    }
    if modelType == "llama4" || modelType == "llama4_text" {
      // Layer i is sparse when i is in moe_layers, by default range(step - 1, layers, step) with
      // step = interleave_moe_layer_step (configuration_llama4.py Llama4TextConfig, default 1):
      // floor(layers / step) layers. Experts and the shared expert are intermediate_size wide.
      let step = try reader.optionalDimension("interleave_moe_layer_step") ?? 1
      let sparse =
        reader.has("moe_layers")
        ? Int64(Set(try reader.indices("moe_layers")).filter { $0 < layers }.count) : layers / step
      let size = try reader.dimension("intermediate_size")
      return MixtureOfExperts(
        style: .llama4, expertCount: try reader.dimension("num_local_experts"),
        expertsPerToken: try reader.optionalDimension("num_experts_per_tok") ?? 1, expertIntermediateSize: size,
        sharedExpertIntermediateSize: size, sparseLayerCount: sparse)
    }
    if modelType == "glm4_moe" || modelType == "deepseek_v3" {
      // Layer i is sparse when i >= first_k_dense_replace; the shared expert is one MLP of
      // moe_intermediate_size x n_shared_experts (modeling_glm4_moe.py, Glm4MoeDecoderLayer and
      // Glm4MoeMoE; both default to 1 in Glm4MoeConfig). DeepSeek-V3's block is the same
      // (modeling_deepseek_v3.py DeepseekV3MoE); DeepseekV3Config's first_k_dense_replace is 3.
      let expertSize = try reader.dimension("moe_intermediate_size")
      let dense = try reader.optionalCount("first_k_dense_replace") ?? (modelType == "deepseek_v3" ? 3 : 1)
      let shared = try reader.optionalCount("n_shared_experts") ?? 1
      return MixtureOfExperts(
        style: .glm, expertCount: try reader.dimension("n_routed_experts"),
        expertsPerToken: try reader.dimension("num_experts_per_tok"), expertIntermediateSize: expertSize,
        sharedExpertIntermediateSize: shared * expertSize, sparseLayerCount: max(0, layers - dense))
    }
    // Qwen2-MoE / Qwen3-MoE: layer i is sparse when it is not in mlp_only_layers and
    // (i + 1) % decoder_sparse_step == 0 (modeling_qwen2_moe.py, Qwen2MoeDecoderLayer).
    let step = try reader.optionalDimension("decoder_sparse_step") ?? 1
    // Counted, not enumerated: layers may be 2^26, and a filtered array of them is 512 MB.
    // The layers with (i + 1) % step == 0 are floor(layers / step); minus the dense-only ones among them.
    let denseOnly = Set(try reader.indices("mlp_only_layers"))
    let sparse = layers / step - Int64(denseOnly.filter { $0 < layers && ($0 + 1) % step == 0 }.count)
    return MixtureOfExperts(
      style: .qwen, expertCount: try reader.dimension("num_experts"),
      expertsPerToken: try reader.dimension("num_experts_per_tok"),
      expertIntermediateSize: try reader.dimension("moe_intermediate_size"),
      sharedExpertIntermediateSize: try sharedExpertSize(reader, modelType: modelType),
      sparseLayerCount: Int64(sparse))
  }

  /// DeepSeek-V3's latent attention keys, with DeepseekV3Config's defaults when absent;
  /// `q_lora_rank: null` (DeepSeek-V2-Lite, Moonlight) means a plain `q_proj`.
  private static func latentAttention(_ reader: ConfigReader) throws(ArchitectureError) -> LatentAttention {
    let queryRank: Int64?
    if let value = reader.members["q_lora_rank"], value == .null {
      queryRank = nil
    } else {
      queryRank = try reader.optionalDimension("q_lora_rank") ?? 1536
    }
    return LatentAttention(
      queryRank: queryRank, keyValueRank: try reader.optionalDimension("kv_lora_rank") ?? 512,
      unrotatedHeadDimension: try reader.optionalDimension("qk_nope_head_dim") ?? 128,
      rotaryHeadDimension: try reader.optionalDimension("qk_rope_head_dim") ?? 64,
      valueHeadDimension: try reader.optionalDimension("v_head_dim") ?? 128,
      hasBias: try reader.bool("attention_bias", default: false))
  }

  /// Qwen2-MoE's shared expert; Qwen3-MoE has none.
  private static func sharedExpertSize(_ reader: ConfigReader, modelType: String) throws(ArchitectureError) -> Int64 {
    guard modelType == "qwen2_moe", let size = try reader.optionalCount("shared_expert_intermediate_size") else {
      return 0
    }
    return size
  }

  /// Whether the parameters of the linear modules of `roles` (all by default), norms and
  /// embeddings stay within ``maximumParameterCount``.
  private static func isWithinLimits(
    _ inventory: ModuleInventory, roles: Set<LinearModule.Role> = Set(LinearModule.Role.allCases)
  ) -> Bool {
    var total: Int64 = 0
    let groups =
      inventory.linears.filter { roles.contains($0.role) }.map {
        ($0.inFeatures * $0.outFeatures + $0.outFeatures, $0.instanceCount)
      }
      + inventory.norms.map { ($0.elements, $0.instanceCount) }
    for (elements, count) in groups {
      let (product, overflow) = elements.multipliedReportingOverflow(by: count)
      // product <= limit too: total + product could otherwise overflow and trap.
      guard !overflow, product <= maximumParameterCount else { return false }
      total += product
      guard total <= maximumParameterCount else { return false }
    }
    return total + inventory.embeddingElements <= maximumParameterCount
  }
}

/// The families whose layouts differ; see ``DecoderLayout``.
private enum Family: Equatable {
  case llama, qwen2, qwen3, gemma, gemma2, gemma3, phi3, mixtral, qwen2MoE, qwen3MoE, glm4MoE, deepseekV3, gptOss,
    llama4, olmo2

  /// nil for a `model_type` that is not modelled.
  init?(modelType: String) {
    switch modelType {
    case "llama", "mistral": self = .llama
    case "qwen2": self = .qwen2
    case "qwen3": self = .qwen3
    case "gemma": self = .gemma
    case "gemma2": self = .gemma2
    case "gemma3", "gemma3_text": self = .gemma3
    case "phi3": self = .phi3
    case "mixtral": self = .mixtral
    case "qwen2_moe": self = .qwen2MoE
    case "qwen3_moe": self = .qwen3MoE
    case "glm4_moe": self = .glm4MoE
    case "deepseek_v3": self = .deepseekV3
    case "gpt_oss": self = .gptOss
    case "llama4", "llama4_text": self = .llama4
    case "olmo2": self = .olmo2
    default: return nil
    }
  }

  /// transformers' config defaults: Gemma configs tie by default, the others do not.
  var tiesEmbeddingsByDefault: Bool { [.gemma, .gemma2, .gemma3].contains(self) }

  /// transformers' config defaults: `Glm4MoeConfig` sets `partial_rotary_factor` 0.5, the others 1.
  var rotaryFractionByDefault: Double { self == .glm4MoE ? 0.5 : 1 }

  func attention(_ reader: ConfigReader) throws(ArchitectureError) -> DecoderLayout.Attention {
    switch self {
    case .phi3: return .fusedQueryKeyValue
    // Qwen2 and Qwen2-MoE hard-code bias=True on q/k/v and none on o_proj.
    case .qwen2, .qwen2MoE: return .separate(queryKeyValueBias: true, outputBias: false)
    // GLM-4 MoE: attention_bias on q/k/v only; o_proj is bias=False.
    case .glm4MoE:
      return .separate(queryKeyValueBias: try reader.bool("attention_bias", default: false), outputBias: false)
    // gpt-oss: attention_bias (GptOssConfig default true) on all four projections.
    case .gptOss:
      let bias = try reader.bool("attention_bias", default: true)
      return .separate(queryKeyValueBias: bias, outputBias: bias)
    default:
      let bias = try reader.bool("attention_bias", default: false)
      return .separate(queryKeyValueBias: bias, outputBias: bias)
    }
  }

  func queryKeyNorm(_ reader: ConfigReader) throws(ArchitectureError) -> DecoderLayout.QueryKeyNorm {
    switch self {
    case .qwen3, .qwen3MoE, .gemma3: return .perHead
    // GLM-4.5/4.6 (355B) set use_qk_norm; GLM-4.5-Air does not.
    case .glm4MoE: return try reader.bool("use_qk_norm", default: false) ? .perHead : .none
    case .olmo2: return .perProjection
    default: return .none
    }
  }

  var normsPerLayer: [String] {
    switch self {
    case .gemma2, .gemma3:
      return ["input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"]
    case .olmo2: return ["post_attention_layernorm", "post_feedforward_layernorm"]
    default: return ["input_layernorm", "post_attention_layernorm"]
    }
  }
}

import Foundation

extension ModelArchitecture {
  /// The `model_type`s whose module layout is modelled exactly. Any other type is refused
  /// (``ArchitectureError/unmodelledType(_:model:)``) unless the caller names one of these to
  /// read it as: a layout guessed silently gives a confident verdict on the wrong tensors.
  public static let knownModelTypes: [String] = [
    "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "gemma3_text", "phi3",
    "mixtral", "qwen2_moe", "qwen3_moe", "olmo2", "gpt2",
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
  public init(config members: [String: JSONValue], name: String, readAs: String? = nil) throws(ArchitectureError) {
    var members = members
    if let text = members["text_config"]?.objectValue {
      members = text.merging(members.filter { $0.key == "tie_word_embeddings" }) { inner, _ in inner }
    }
    let reader = ConfigReader(members: members, model: name)
    // Not used by the estimate, but a negative or fractional window means a broken config:
    // refused like any other dimension rather than accepted silently.
    _ = try reader.optionalDimension("sliding_window")
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
    } else {
      try self.init(decoder: reader, modelType: modelType, name: name, type: type)
    }
    guard Self.isWithinLimits(inventory) else {
      // Blame the count that multiplies: the experts when an expert group is what overflows.
      let expertsOverflow = layout.mixtureOfExperts != nil && Self.isWithinLimits(inventory, roles: [.projection])
      let key = expertsOverflow ? (modelType == "mixtral" ? "num_local_experts" : "num_experts") : "num_hidden_layers"
      let value = expertsOverflow ? String(layout.mixtureOfExperts?.expertCount ?? 0) : String(layerCount)
      throw .invalidValue(key: key, value: value, reason: "the model would have more than 10^15 parameters", model: name)
    }
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
    let headDimension: Int64
    if let explicit = try reader.optionalDimension("head_dim") {
      headDimension = explicit
    } else {
      guard hidden % heads == 0 else {
        throw .missingKey("head_dim", model: name)
      }
      headDimension = hidden / heads
    }
    let isMoE = ["mixtral", "qwen2_moe", "qwen3_moe"].contains(modelType)
    // Qwen MoE configs may give only moe_intermediate_size; the dense size is then unused.
    let intermediate: Int64
    if isMoE, !reader.has("intermediate_size") {
      intermediate = try reader.dimension("moe_intermediate_size")
    } else {
      intermediate = try reader.dimension("intermediate_size")
    }
    let vocabulary = try reader.dimension("vocab_size")
    let tied = try reader.bool("tie_word_embeddings", default: family.tiesEmbeddingsByDefault)
    let rotaryFraction = try reader.fraction("partial_rotary_factor", default: 1)
    let rotaryDimension = Int64((Double(headDimension) * rotaryFraction).rounded(.down))

    let layout = DecoderLayout(
      attention: try family.attention(reader),
      feedForward: family == .phi3 ? .fusedGateUp : .gated(bias: try reader.bool("mlp_bias", default: false)),
      queryKeyNorm: family.queryKeyNorm,
      normsPerLayer: family.normsPerLayer,
      normHasBias: false,
      positionEmbedding: .rotary(dimension: rotaryDimension, embeddingCount: family == .gemma3 ? 2 : 1),
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
      mixtureOfExperts: nil)
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
        expertCount: try reader.dimension("num_local_experts"),
        expertsPerToken: try reader.dimension("num_experts_per_tok"),
        expertIntermediateSize: try reader.dimension("intermediate_size"),
        sharedExpertIntermediateSize: 0, sparseLayerCount: layers, routerPath: "block_sparse_moe.gate")
    }
    // Qwen2-MoE / Qwen3-MoE: layer i is sparse when it is not in mlp_only_layers and
    // (i + 1) % decoder_sparse_step == 0 (modeling_qwen2_moe.py, Qwen2MoeDecoderLayer).
    let step = try reader.optionalDimension("decoder_sparse_step") ?? 1
    // Counted, not enumerated: layers may be 2^26, and a filtered array of them is 512 MB.
    // The layers with (i + 1) % step == 0 are floor(layers / step); minus the dense-only ones among them.
    let denseOnly = Set(try reader.indices("mlp_only_layers"))
    let sparse = layers / step - Int64(denseOnly.filter { $0 < layers && ($0 + 1) % step == 0 }.count)
    return MixtureOfExperts(
      expertCount: try reader.dimension("num_experts"),
      expertsPerToken: try reader.dimension("num_experts_per_tok"),
      expertIntermediateSize: try reader.dimension("moe_intermediate_size"),
      sharedExpertIntermediateSize: try sharedExpertSize(reader, modelType: modelType),
      sparseLayerCount: Int64(sparse), routerPath: "mlp.gate")
  }

  /// Qwen2-MoE's shared expert; Qwen3-MoE has none.
  private static func sharedExpertSize(_ reader: ConfigReader, modelType: String) throws(ArchitectureError) -> Int64 {
    guard modelType == "qwen2_moe", let size = try reader.optionalCount("shared_expert_intermediate_size") else { return 0 }
    return size
  }

  /// Whether the parameters of the linear modules of `roles` (all by default), norms and
  /// embeddings stay within ``maximumParameterCount``.
  private static func isWithinLimits(
    _ inventory: ModuleInventory, roles: Set<LinearModule.Role> = [.projection, .expert, .router]
  ) -> Bool {
    var total: Int64 = 0
    let groups = inventory.linears.filter { roles.contains($0.role) }.map { ($0.inFeatures * $0.outFeatures + $0.outFeatures, $0.instanceCount) }
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
  case llama, qwen2, qwen3, gemma, gemma2, gemma3, phi3, mixtral, qwen2MoE, qwen3MoE, olmo2

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
    case "olmo2": self = .olmo2
    default: return nil
    }
  }

  /// transformers' config defaults: Gemma configs tie by default, the others do not.
  var tiesEmbeddingsByDefault: Bool { [.gemma, .gemma2, .gemma3].contains(self) }

  func attention(_ reader: ConfigReader) throws(ArchitectureError) -> DecoderLayout.Attention {
    switch self {
    case .phi3: return .fusedQueryKeyValue
    // Qwen2 and Qwen2-MoE hard-code bias=True on q/k/v and none on o_proj.
    case .qwen2, .qwen2MoE: return .separate(queryKeyValueBias: true, outputBias: false)
    default:
      let bias = try reader.bool("attention_bias", default: false)
      return .separate(queryKeyValueBias: bias, outputBias: bias)
    }
  }

  var queryKeyNorm: DecoderLayout.QueryKeyNorm {
    switch self {
    case .qwen3, .qwen3MoE, .gemma3: return .perHead
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

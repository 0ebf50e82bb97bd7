extension ModelArchitecture {
  /// Gemma 3n's text model (`gemma3n_text`, nested under `text_config` in the multimodal
  /// `gemma3n` checkpoints), with `Gemma3nTextConfig`'s defaults (transformers 5.25.0
  /// `configuration_gemma3n.py`) for absent keys; see ``Gemma3nLayout``. `wrapper`, the
  /// multimodal config's members, adds its vision and audio towers (``Gemma3nTowers``).
  init(
    gemma3n reader: ConfigReader, wrapper: [String: JSONValue]?, name: String, type: DeclaredType
  ) throws(ArchitectureError) {
    let hidden = try reader.optionalDimension("hidden_size") ?? 2048
    let layers = try reader.optionalDimension("num_hidden_layers") ?? 35
    let heads = try reader.optionalDimension("num_attention_heads") ?? 8
    let kvHeads = try reader.optionalDimension("num_key_value_heads") ?? 2
    guard heads % kvHeads == 0 else {
      throw .invalidValue(
        key: "num_key_value_heads", value: String(kvHeads),
        reason: "must divide num_attention_heads (\(heads))", model: name)
    }
    let headDimension = try reader.optionalDimension("head_dim") ?? 256
    let shared = try reader.optionalCount("num_kv_shared_layers") ?? 15
    guard shared < layers else {
      throw .invalidValue(
        key: "num_kv_shared_layers", value: String(shared),
        reason: "must be below num_hidden_layers (\(layers)): a shared layer reuses an earlier layer's keys and values",
        model: name)
    }
    let intermediate = try Self.intermediateGroups(reader, layers: layers)
    let layout = Gemma3nLayout(
      altUpInputs: try reader.optionalDimension("altup_num_inputs") ?? 4,
      laurelRank: try reader.optionalDimension("laurel_rank") ?? 64,
      perLayerInputWidth: try reader.optionalDimension("hidden_size_per_layer_input") ?? 256,
      perLayerVocabulary: try reader.optionalDimension("vocab_size_per_layer_input") ?? 262_144,
      keyValueSharedLayers: shared, sparseActivationLayers: try Self.sparseActivationLayers(reader, layers: layers),
      layerTypeCount: try Self.layerTypeCount(reader, layers: layers, shared: shared),
      intermediateGroups: intermediate)
    let vocabulary = try reader.optionalDimension("vocab_size") ?? 262_400
    let tied = try reader.bool("tie_word_embeddings", default: true)
    let decoder = DecoderLayout(
      attention: .separate(queryKeyValueBias: false, outputBias: false), feedForward: .gated(bias: false),
      queryKeyNorm: .perHead,
      normsPerLayer: [
        "input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm",
      ],
      normHasBias: false, normReturnsInputDtype: true,
      positionEmbedding: .rotary(dimension: headDimension, embeddingCount: layout.layerTypeCount),
      rotaryEndsInConcatenation: false, mixtureOfExperts: nil, gemma3n: layout)
    guard try !reader.bool("attention_bias", default: false) else {
      throw .invalidValue(
        key: "attention_bias", value: "true", reason: "Gemma 3n is modelled without attention biases", model: name)
    }
    let towers = try wrapper.map { members throws(ArchitectureError) in
      try Gemma3nTowers(config: members, textHidden: hidden, model: name)
    }
    self.init(
      name: name, type: type, hiddenSize: hidden, layerCount: layers, attentionHeadCount: heads,
      keyValueHeadCount: kvHeads, headDimension: headDimension, intermediateSize: intermediate.map(\.size).max() ?? 0,
      vocabularySize: vocabulary, tiesWordEmbeddings: tied, layout: decoder,
      inventory: .gemma3n(
        hidden: hidden, layers: layers, heads: heads, keyValueHeads: kvHeads, headDimension: headDimension,
        vocabulary: vocabulary, tied: tied, layout: layout, towers: towers))
  }

  /// `intermediate_size`: one value for every layer or a list of one per layer (default 16,384).
  private static func intermediateGroups(
    _ reader: ConfigReader, layers: Int64
  ) throws(ArchitectureError) -> [Gemma3nLayout.IntermediateGroup] {
    guard case .array(let values) = reader.members["intermediate_size"] ?? .null else {
      return [.init(size: try reader.optionalDimension("intermediate_size") ?? 16_384, layers: layers)]
    }
    guard Int64(values.count) == layers else {
      throw .invalidValue(
        key: "intermediate_size", value: "a list of \(values.count)",
        reason: "expected one size per layer (\(layers))", model: reader.model)
    }
    var groups: [Gemma3nLayout.IntermediateGroup] = []
    for value in values {
      let size = try ConfigReader(members: ["intermediate_size": value], model: reader.model).dimension(
        "intermediate_size")
      if let index = groups.firstIndex(where: { $0.size == size }) {
        groups[index].layers += 1
      } else {
        groups.append(.init(size: size, layers: 1))
      }
    }
    return groups
  }

  /// The layers whose `activation_sparsity_pattern` entry is above 0; by default the first 10
  /// when the model has more than 10 layers.
  private static func sparseActivationLayers(_ reader: ConfigReader, layers: Int64) throws(ArchitectureError) -> Int64 {
    let key = "activation_sparsity_pattern"
    switch reader.members[key] ?? .null {
    case .null: return layers > 10 ? 10 : 0
    case .array(let values):
      guard Int64(values.count) == layers else {
        throw .invalidValue(
          key: key, value: "a list of \(values.count)", reason: "expected one value per layer (\(layers))",
          model: reader.model)
      }
      var sparse: Int64 = 0
      for value in values {
        guard case .number(let fraction) = value, fraction >= 0, fraction < 1 else {
          throw .invalidValue(
            key: key, value: ConfigReader.render(value), reason: "expected a number in [0, 1)", model: reader.model)
        }
        if fraction > 0 { sparse += 1 }
      }
      return sparse
    case let value:
      throw .invalidValue(
        key: key, value: ConfigReader.render(value), reason: "expected a list of one value per layer",
        model: reader.model)
    }
  }

  /// The distinct `layer_types` (by default every fifth layer `full_attention`, the others
  /// `sliding_attention`). transformers refuses a config whose shared layers use a type no
  /// earlier layer produces (`Gemma3nTextConfig.kv_sharing_modes`); so does this.
  private static func layerTypeCount(
    _ reader: ConfigReader, layers: Int64, shared: Int64
  ) throws(ArchitectureError) -> Int64 {
    let key = "layer_types"
    var types: [String] = []
    switch reader.members[key] ?? .null {
    case .null:
      // Counted, not enumerated (layers may be 2^26): a full layer exists from 5 layers on, and
      // the shared layers need one among the first layers - shared.
      guard layers >= 5 else { return 1 }
      guard shared == 0 || layers - shared >= 5 else {
        throw .invalidValue(
          key: "num_kv_shared_layers", value: String(shared),
          reason: "a shared layer's type has no earlier layer producing its keys and values", model: reader.model)
      }
      return 2
    case .array(let values):
      guard Int64(values.count) == layers else {
        throw .invalidValue(
          key: key, value: "a list of \(values.count)", reason: "expected one type per layer (\(layers))",
          model: reader.model)
      }
      for value in values {
        guard case .string(let text) = value else {
          throw .invalidValue(
            key: key, value: ConfigReader.render(value), reason: "expected a string", model: reader.model)
        }
        types.append(text)
      }
    case let value:
      throw .invalidValue(
        key: key, value: ConfigReader.render(value), reason: "expected a list of one type per layer",
        model: reader.model)
    }
    let producing = Set(types.prefix(Int(layers - shared)))
    guard shared == 0 || producing == Set(types) else {
      throw .invalidValue(
        key: "num_kv_shared_layers", value: String(shared),
        reason: "a shared layer's type has no earlier layer producing its keys and values", model: reader.model)
    }
    return Int64(Set(types).count)
  }
}

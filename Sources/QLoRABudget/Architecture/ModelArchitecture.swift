/// The shape of a decoder-only language model, as its Hugging Face `config.json` describes it.
///
/// Build one from a config with ``init(config:name:)`` (or from a preset through
/// ``PresetCatalog``). Everything the estimator needs is derived from these dimensions and the
/// family's ``DecoderLayout``: the ``inventory`` of every parameter tensor with its shape.
public struct ModelArchitecture: Hashable, Sendable {
  /// The preset or folder name the model was loaded as.
  public let name: String
  /// The config's `model_type` (e.g. `qwen3`), as the config declares it.
  public let modelType: String
  /// The modelled `model_type` the config was read as on the user's say-so (`--read-as`), when
  /// its own `model_type` is not modelled; nil when it was read as itself.
  public let readAs: String?
  public let hiddenSize: Int64
  public let layerCount: Int64
  public let attentionHeadCount: Int64
  public let keyValueHeadCount: Int64
  public let headDimension: Int64
  /// The dense MLP's intermediate size (the experts' size is in ``DecoderLayout/mixtureOfExperts``).
  public let intermediateSize: Int64
  public let vocabularySize: Int64
  public let tiesWordEmbeddings: Bool
  package let layout: DecoderLayout
  /// The top-level `model_type` of a multimodal config whose language model was read from
  /// `text_config` (`gemma3`, `llama4`); nil when the config is the language model's own.
  public internal(set) var wrapperModelType: String?
  /// The positions the model was built for (`max_position_embeddings`, GPT-2's `n_positions`);
  /// nil when the config does not say. A longer sequence is counted as asked, with a warning
  /// (``ContextLengthWarning``).
  public internal(set) var trainedContextLength: Int64?
  /// The bitsandbytes `quantization_config` of a pre-quantized checkpoint's config.json, if any.
  package internal(set) var checkpointQuantization: CheckpointQuantization?
  /// Things a person should know about how the config was read (a `model_type` read as another).
  public var warnings: [String] {
    let checkpoint = checkpointQuantization?.notes.map { "the checkpoint's quantization_config: " + $0 } ?? []
    guard let readAs else { return checkpoint }
    return [
      "model_type '\(modelType)' read as '\(readAs)' as asked: "
        + "its tensors are counted as a \(readAs) model's, which is right only if the layouts match"
    ] + checkpoint
  }

  /// Every parameter tensor, grouped by role, derived from the dimensions and the layout.
  package let inventory: ModuleInventory

  /// The total number of parameters (tied embeddings counted once).
  public var parameterCount: Int64 { inventory.parameterCount }

  /// Projection widths: queries (`heads x head_dim`) and keys/values (`kv heads x head_dim`).
  /// For MLA, `head_dim` is the query/key head width (`qk_nope_head_dim + qk_rope_head_dim`).
  public var queryWidth: Int64 { attentionHeadCount * headDimension }
  public var keyValueWidth: Int64 { keyValueHeadCount * headDimension }

  /// MLA's latent attention, when the model has it (DeepSeek-V3).
  public var latentAttention: LatentAttention? {
    if case .latent(let mla) = layout.attention { return mla }
    return nil
  }

  /// The attention output's width per token, what o_proj reads: `heads x v_head_dim` for MLA,
  /// else the query width.
  public var attentionOutputWidth: Int64 {
    latentAttention.map { attentionHeadCount * $0.valueHeadDimension } ?? queryWidth
  }

  /// Elements per token and layer of transformers' key/value cache: k and v (`2 x kv heads x
  /// head_dim`); for MLA in transformers 5 the compressed latent it caches before expanding
  /// (`cache.update(kv_nope, k_rot)`: `kv_lora_rank + qk_rope_head_dim`, one head).
  public var cachedKeyValueWidth: Int64 {
    latentAttention?.compressedWidth ?? 2 * keyValueWidth
  }

  init(
    name: String, type: DeclaredType, hiddenSize: Int64, layerCount: Int64,
    attentionHeadCount: Int64, keyValueHeadCount: Int64, headDimension: Int64,
    intermediateSize: Int64, vocabularySize: Int64, tiesWordEmbeddings: Bool,
    layout: DecoderLayout, inventory: ModuleInventory? = nil
  ) {
    self.name = name
    self.modelType = type.declared
    self.readAs = type.readAs
    self.hiddenSize = hiddenSize
    self.layerCount = layerCount
    self.attentionHeadCount = attentionHeadCount
    self.keyValueHeadCount = keyValueHeadCount
    self.headDimension = headDimension
    self.intermediateSize = intermediateSize
    self.vocabularySize = vocabularySize
    self.tiesWordEmbeddings = tiesWordEmbeddings
    self.layout = layout
    // Gemma 3n builds its own (``Gemma3nLayout``); every other family derives it from the layout.
    self.inventory =
      inventory
      ?? ModuleInventory.build(
        hidden: hiddenSize, layers: layerCount, queryWidth: attentionHeadCount * headDimension,
        keyValueWidth: keyValueHeadCount * headDimension, headDimension: headDimension,
        intermediate: intermediateSize, vocabulary: vocabularySize, tied: tiesWordEmbeddings, layout: layout)
  }
}

/// A config's own `model_type` and the modelled one it is read as, if the user named one.
struct DeclaredType {
  let declared: String
  let readAs: String?
}

extension ModuleInventory {
  /// The inventory of a decoder-only model: per-layer modules times the layer count, plus
  /// embeddings, the final norm and lm_head.
  static func build(
    hidden h: Int64, layers: Int64, queryWidth q: Int64, keyValueWidth kv: Int64, headDimension d: Int64,
    intermediate: Int64, vocabulary: Int64, tied: Bool, layout: DecoderLayout
  ) -> ModuleInventory {
    var linears: [LinearModule] = []
    func linear(
      _ path: String, _ input: Int64, _ output: Int64, bias: Bool = false, count: Int64 = layers,
      role: LinearModule.Role = .projection, reads: LinearModule.Input
    ) {
      guard count > 0 else { return }
      linears.append(
        LinearModule(
          path: path, inFeatures: input, outFeatures: output, hasBias: bias, instanceCount: count, role: role,
          input: reads))
    }

    switch layout.attention {
    case .separate(let qkvBias, let outputBias):
      linear("self_attn.q_proj", h, q, bias: qkvBias, reads: .attentionInput)
      linear("self_attn.k_proj", h, kv, bias: qkvBias, reads: .attentionInput)
      linear("self_attn.v_proj", h, kv, bias: qkvBias, reads: .attentionInput)
      linear("self_attn.o_proj", q, h, bias: outputBias, reads: .attentionOutput)
    case .fusedQueryKeyValue:
      linear("self_attn.qkv_proj", h, q + 2 * kv, reads: .attentionInput)
      linear("self_attn.o_proj", q, h, reads: .attentionOutput)
    case .gpt2:
      linear("attn.c_attn", h, 3 * h, bias: true, reads: .attentionInput)
      linear("attn.c_proj", h, h, bias: true, reads: .attentionOutput)
    case .latent(let mla):
      // q = heads x (nope + rope): the query width; o_proj reads heads x v.
      let heads = q / d
      if let rank = mla.queryRank {
        linear("self_attn.q_a_proj", h, rank, bias: mla.hasBias, reads: .attentionInput)
        linear("self_attn.q_b_proj", rank, q, reads: .queryLatent)
      } else {
        linear("self_attn.q_proj", h, q, reads: .attentionInput)
      }
      linear("self_attn.kv_a_proj_with_mqa", h, mla.compressedWidth, bias: mla.hasBias, reads: .attentionInput)
      linear(
        "self_attn.kv_b_proj", mla.keyValueRank, heads * (mla.unrotatedHeadDimension + mla.valueHeadDimension),
        reads: .keyValueLatent)
      linear("self_attn.o_proj", heads * mla.valueHeadDimension, h, bias: mla.hasBias, reads: .attentionOutput)
    }

    let sparseLayers = layout.mixtureOfExperts?.sparseLayerCount ?? 0
    let denseLayers = layers - sparseLayers
    let mlp = layout.feedForwardPrefix
    switch layout.feedForward {
    case .gated(let bias):
      linear(mlp + ".gate_proj", h, intermediate, bias: bias, count: denseLayers, reads: .feedForwardInput)
      linear(mlp + ".up_proj", h, intermediate, bias: bias, count: denseLayers, reads: .feedForwardInput)
      linear(mlp + ".down_proj", intermediate, h, bias: bias, count: denseLayers, reads: .feedForwardIntermediate)
    case .fusedGateUp:
      linear("mlp.gate_up_proj", h, 2 * intermediate, count: denseLayers, reads: .feedForwardInput)
      linear("mlp.down_proj", intermediate, h, count: denseLayers, reads: .feedForwardIntermediate)
    case .plain:
      linear("mlp.c_fc", h, intermediate, bias: true, count: denseLayers, reads: .feedForwardInput)
      linear("mlp.c_proj", intermediate, h, bias: true, count: denseLayers, reads: .feedForwardIntermediate)
    }
    if let moe = layout.mixtureOfExperts, sparseLayers > 0 {
      let experts = sparseLayers * moe.expertCount
      let size = moe.expertIntermediateSize
      let biased = moe.isGptOss
      linear(
        moe.routerPath, h, moe.expertCount, bias: biased, count: sparseLayers, role: moe.routerRole, reads: .sparseInput
      )
      if moe.hasFusedGateUpExperts {
        // GptOssExperts / Llama4TextExperts: gate_up_proj (E, hidden, 2 x intermediate) and
        // down_proj, with biases in gpt-oss only.
        let path = moe.fusedExpertsPath
        linear(
          path + ".gate_up_proj", h, 2 * size, bias: biased, count: experts, role: moe.expertRole, reads: .sparseInput)
        linear(
          path + ".down_proj", size, h, bias: biased, count: experts, role: moe.expertRole, reads: .expertIntermediate)
      } else {
        let paths = moe.expertPaths
        linear(paths.gate, h, size, count: experts, role: moe.expertRole, reads: .sparseInput)
        linear(paths.up, h, size, count: experts, role: moe.expertRole, reads: .sparseInput)
        linear(paths.down, size, h, count: experts, role: moe.expertRole, reads: .expertIntermediate)
      }
      if moe.sharedExpertIntermediateSize > 0 {
        let shared = moe.sharedExpertPath
        let sharedSize = moe.sharedExpertIntermediateSize
        linear(shared + ".gate_proj", h, sharedSize, count: sparseLayers, reads: .sparseInput)
        linear(shared + ".up_proj", h, sharedSize, count: sparseLayers, reads: .sparseInput)
        linear(shared + ".down_proj", sharedSize, h, count: sparseLayers, reads: .sharedExpertIntermediate)
        // `torch.nn.Linear(hidden, 1)` in transformers 4 and 5 alike (modeling_qwen2_moe.py
        // Qwen2MoeSparseMoeBlock): quantized, and targeted by all-linear (meta-device counts).
        if moe.hasSharedExpertGate {
          linear("mlp.shared_expert_gate", h, 1, count: sparseLayers, reads: .sparseInput)
        }
      }
    }

    let normWidth = layout.normHasBias ? 2 * h : h
    var norms: [VectorParameter] = []
    // The dimensions were validated positive when the config was read.
    func norm(_ path: String, _ elements: Int64, count: Int64 = layers) {
      if let parameter = VectorParameter(path: path, elements: elements, instanceCount: count) {
        norms.append(parameter)
      }
    }
    for path in layout.normsPerLayer { norm(path, normWidth) }
    switch layout.queryKeyNorm {
    case .none: break
    case .perHead:
      norm("self_attn.q_norm", d)
      norm("self_attn.k_norm", d)
    case .perProjection:
      norm("self_attn.q_norm", q)
      norm("self_attn.k_norm", kv)
    }
    if layout.hasAttentionSinks { norm("self_attn.sinks", q / d) }
    if case .latent(let mla) = layout.attention {
      if let rank = mla.queryRank { norm("self_attn.q_a_layernorm", rank) }
      norm("self_attn.kv_a_layernorm", mla.keyValueRank)
    }
    norm("final_norm", normWidth, count: 1)

    let positions: Int64
    var buffers: ByteCount
    switch layout.positionEmbedding {
    case .rotary(let dimension, let embeddingCount):
      positions = 0
      // inv_freq and original_inv_freq: dimension / 2 fp32 values each, per rotary module.
      buffers = .elements(2 * embeddingCount * (dimension / 2), bytesEach: 4)
    case .learned(let count):
      positions = count * h
      buffers = .zero
    }
    // GLM-4 MoE's router keeps an fp32 `e_score_correction_bias` of one value per expert.
    let routerBuffers = sparseLayers * (layout.mixtureOfExperts?.routerBufferElements ?? 0)
    buffers = buffers + .elements(routerBuffers, bytesEach: 4)
    let embedding = vocabulary * h
    return ModuleInventory(
      linears: linears, norms: norms, tokenEmbeddingElements: embedding,
      positionEmbeddingElements: positions, lmHeadElements: tied ? 0 : embedding, bufferBytes: buffers,
      bufferContents: routerBuffers > 0 ? "rotary inv_freq and router e_score_correction_bias" : "rotary inv_freq")
  }
}

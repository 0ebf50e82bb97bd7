/// What Gemma 3n's text model (`gemma3n_text`, transformers 5.25.0 `modeling_gemma3n.py`
/// `Gemma3nTextModel` / `Gemma3nTextDecoderLayer`) has beyond a Gemma 3 layer.
///
/// - **AltUp** (`Gemma3nTextAltUp`, per layer): the residual stream is `altup_num_inputs` copies
///   of the hidden state (`n x b x s x h`); `modality_router` (hidden -> n, after `router_norm`),
///   `prediction_coefs` (n -> n^2), `correction_coefs` (n -> n), all `nn.Linear`, and
///   `correct_output_scale` (hidden, a bare parameter). The model adds `altup_projections` and
///   `altup_unembed_projections` (n - 1 `nn.Linear(hidden, hidden)` each, named `0`, `1`, ...).
/// - **Laurel** (`Gemma3nTextLaurelBlock`): `linear_left` (hidden -> `laurel_rank`) on the first
///   norm's output, `linear_right` (rank -> hidden), `post_laurel_norm`.
/// - **Per-layer inputs**: `embed_tokens_per_layer` (`vocab_size_per_layer_input x (layers x
///   hidden_size_per_layer_input)`), `per_layer_model_projection` (hidden -> layers x p) and
///   `per_layer_projection_norm` (p) in the model; `per_layer_input_gate` (hidden -> p),
///   `per_layer_projection` (p -> hidden) and `post_per_layer_input_norm` in each layer.
/// - **KV sharing**: the last `num_kv_shared_layers` layers reuse an earlier layer's keys and
///   values and build no `k_proj`, `v_proj`, `k_norm` (5.25; 4.57.1 builds them unused);
///   `v_norm` has no weight in any layer.
/// - **MLP**: `intermediate_size` per layer (a list or one value); the layers whose
///   `activation_sparsity_pattern` entry is above 0 take a Gaussian top-k of the gate.
package struct Gemma3nLayout: Hashable, Sendable {
  /// `altup_num_inputs`: copies of the hidden state in the residual stream.
  public var altUpInputs: Int64
  /// `laurel_rank`.
  public var laurelRank: Int64
  /// `hidden_size_per_layer_input`.
  public var perLayerInputWidth: Int64
  /// `vocab_size_per_layer_input`.
  public var perLayerVocabulary: Int64
  /// `num_kv_shared_layers`.
  public var keyValueSharedLayers: Int64
  /// Layers whose `activation_sparsity_pattern` entry is above 0.
  public var sparseActivationLayers: Int64
  /// The distinct `layer_types` (each has its own rotary tables and causal mask).
  public var layerTypeCount: Int64
  /// `intermediate_size`: each distinct size and how many layers have it, in first-seen order.
  public var intermediateGroups: [IntermediateGroup]

  public struct IntermediateGroup: Hashable, Sendable {
    public var size: Int64
    public var layers: Int64
  }
}

extension ModuleInventory {
  /// Gemma 3n's text model, tensor by tensor (transformers 5.25.0; see ``Gemma3nLayout``).
  static func gemma3n(
    hidden h: Int64, layers: Int64, heads: Int64, keyValueHeads: Int64, headDimension d: Int64, vocabulary: Int64,
    tied: Bool, layout g: Gemma3nLayout, towers: Gemma3nTowers? = nil
  ) -> ModuleInventory {
    var linears: [LinearModule] = []
    func linear(
      _ path: String, _ input: Int64, _ output: Int64, count: Int64 = layers, role: LinearModule.Role = .projection,
      reads: LinearModule.Input
    ) {
      guard count > 0 else { return }
      linears.append(
        LinearModule(
          path: path, inFeatures: input, outFeatures: output, instanceCount: count, role: role, input: reads))
    }
    let q = heads * d
    let kv = keyValueHeads * d
    let owning = layers - g.keyValueSharedLayers
    let n = g.altUpInputs
    let p = g.perLayerInputWidth
    linear("self_attn.q_proj", h, q, reads: .attentionInput)
    linear("self_attn.k_proj", h, kv, count: owning, reads: .attentionInput)
    linear("self_attn.v_proj", h, kv, count: owning, reads: .attentionInput)
    linear("self_attn.o_proj", q, h, reads: .attentionOutput)
    for group in g.intermediateGroups {
      linear("mlp.gate_proj", h, group.size, count: group.layers, reads: .feedForwardInput)
      linear("mlp.up_proj", h, group.size, count: group.layers, reads: .feedForwardInput)
      linear("mlp.down_proj", group.size, h, count: group.layers, reads: .feedForwardIntermediate)
    }
    linear("altup.correction_coefs", n, n, role: .keptUnquantized, reads: .gemma3nPath)
    linear("altup.prediction_coefs", n, n * n, role: .keptUnquantized, reads: .gemma3nPath)
    linear("altup.modality_router", h, n, reads: .gemma3nPath)
    // Laurel reads the first norm's output, as q/k/v do.
    linear("laurel.linear_left", h, g.laurelRank, reads: .attentionInput)
    linear("laurel.linear_right", g.laurelRank, h, reads: .gemma3nPath)
    linear("per_layer_input_gate", h, p, reads: .gemma3nPath)
    linear("per_layer_projection", p, h, reads: .gemma3nPath)
    // Model-level modules, outside the decoder layers.
    linear("per_layer_model_projection", h, layers * p, count: 1, reads: .gemma3nPath)
    for index in 0..<max(0, n - 1) {
      linear("altup_projections.\(index)", h, h, count: 1, reads: .gemma3nPath)
      linear("altup_unembed_projections.\(index)", h, h, count: 1, reads: .gemma3nPath)
    }

    var norms: [VectorParameter] = []
    func norm(_ path: String, _ elements: Int64, count: Int64 = layers) {
      if let parameter = VectorParameter(path: path, elements: elements, instanceCount: count) {
        norms.append(parameter)
      }
    }
    for path in [
      "input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm",
      "altup.router_norm", "altup.correct_output_scale", "laurel.post_laurel_norm", "post_per_layer_input_norm",
    ] {
      norm(path, h)
    }
    norm("self_attn.q_norm", d)
    norm("self_attn.k_norm", d, count: owning)
    norm("final_norm", h, count: 1)
    norm("per_layer_projection_norm", p, count: 1)
    linears += towers?.linears ?? []
    norms += towers?.otherParameters ?? []

    // Rotary: inv_freq and original_inv_freq (head_dim / 2 fp32 each) per layer type. Scalar
    // buffers, made under the load dtype (16-bit, 2 bytes each, measured after loading in
    // bfloat16): two embed_scale, one router_input_scale per layer, per_layer_projection_scale
    // and per_layer_input_scale.
    let buffers =
      ByteCount.elements(2 * g.layerTypeCount * (d / 2), bytesEach: 4) + .elements(layers + 4, bytesEach: 2)
      + (towers?.bufferBytes ?? .zero)
    let embedding = vocabulary * h
    return ModuleInventory(
      linears: linears, norms: norms, tokenEmbeddingElements: embedding, positionEmbeddingElements: 0,
      lmHeadElements: tied ? 0 : embedding, perLayerEmbeddingElements: g.perLayerVocabulary * layers * p,
      bufferBytes: buffers, bufferContents: "rotary inv_freq and 16-bit scale scalars")
  }
}

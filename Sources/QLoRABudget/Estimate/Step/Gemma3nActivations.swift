/// What Gemma 3n's step keeps beyond a Gemma 3 stack (``Gemma3nLayout``; transformers 5.25.0
/// `Gemma3nTextModel.forward`), from the tensors autograd saves, listed on a small model with a
/// saved-tensors hook and measured at E2B's dimensions (docs/models.md):
///
/// - Each checkpointed layer's input is the AltUp stack, `altup_num_inputs` copies of the hidden
///   state (`n x b x s x h` in the residual dtype), not one; and the per-layer inputs
///   (`b x s x layers x p`, fp32 from the fp32 per-layer embedding) grow by one layer's slice, as
///   does `per_layer_projection_norm`'s saved fp32 input, with its two `tokens x 1` fp32 tensors.
/// - Outside the layers, with grad: each AltUp projection (`altup_projections`, reading the
///   embeddings; `altup_unembed_projections`, reading the last layer's stack, which stays saved)
///   keeps its LoRA branch's tensors (``LoRABranch``), its output cast to the residual dtype (the
///   `** 2`'s input) and `output * target_magnitude` (the division's input), and two `tokens x 1`
///   fp32 magnitudes; `per_layer_model_projection` keeps its LoRA branch's; the embeddings' own
///   `** 2` keeps them (`target_magnitude`).
///
/// Not modelled: the AltUp and Laurel temporaries inside a layer (`predict`'s and `correct`'s
/// `n x b x s x h` tensors, the Gaussian top-k's statistics) and the KV-shared layers' reuse of
/// another layer's keys and values: every layer is taken as a Gemma 3 layer there. On the measured
/// steps the loss's moment over the 262,400-token vocabulary is the peak and these are below it.
enum Gemma3nActivations {
  /// Bytes each checkpointed layer keeps beyond its one hidden-state input.
  static func extraKeptPerLayer(_ context: StepContext) -> ByteCount {
    guard let g = context.model.layout.gemma3n else { return .zero }
    let hidden = context.model.hiddenSize
    return (g.altUpInputs - 1) * context.perToken(hidden, context.stream)
      + 2 * context.perToken(g.perLayerInputWidth, 4) + 2 * context.perToken(1, 4)
  }

  /// A multimodal config's embedders (``Gemma3nTowers``): `Gemma3nModel.forward` runs
  /// `embed_vision` and `embed_audio` on every token (a placeholder id where the token is text)
  /// and keeps the text embedding with `torch.where`. Their frozen embedding and first norm need
  /// no gradient, so an embedder saves something only when LoRA adapts its `embedding_projection`:
  /// the branch's tensors but the dropout mask (its input needs no gradient), the post-projection
  /// norm's fp32 input (text hidden) and two `tokens x 1` fp32 statistics, and `torch.where`'s
  /// `tokens x 1` bool mask. Listed with a saved-tensors hook on a small multimodal Gemma 3n
  /// (2 text layers, hidden 256, the published vision tower, a one-block audio tower, 64 tokens):
  /// 423,040 bytes more than its text model, exactly these plus the autocast copies of lora_B.
  static func embedders(_ context: StepContext, adapted: [LinearModule]) -> ByteCount {
    let projections = context.model.inventory.linears.filter {
      $0.path.hasPrefix("embed_") && $0.path.hasSuffix(".embedding_projection")
    }
    return projections.reduce(ByteCount.zero) { total, module in
      guard adapted.contains(where: { $0.path == module.path }) else { return total }
      let branch = LoRABranch(context, inFeatures: module.inFeatures, inputWidth: 4)
      return total + (branch.own.total - branch.mask) + context.perToken(module.outFeatures, 4)
        + 2 * context.perToken(1, 4) + context.perToken(1, 1)
    }
  }

  /// The model-level tensors saved outside the decoder layers.
  static func modelLevelSaved(_ context: StepContext, adapted: [LinearModule]) -> [TensorTerm] {
    guard let g = context.model.layout.gemma3n else { return [] }
    let hidden = context.model.hiddenSize
    let residual = context.stream
    let projections = 2 * (g.altUpInputs - 1)
    func branch(_ path: String) -> ByteCount {
      guard adapted.contains(where: { $0.path == path }) else { return .zero }
      return LoRABranch(context, inFeatures: hidden, inputWidth: residual).own.total
    }
    let altUpBranches = (0..<max(0, g.altUpInputs - 1)).reduce(ByteCount.zero) {
      $0 + branch("altup_projections.\($1)") + branch("altup_unembed_projections.\($1)")
    }
    return [
      TensorTerm(
        "the last layer's AltUp stack beyond one hidden state", (g.altUpInputs - 1) * context.perToken(hidden, residual)
      ),
      TensorTerm("the embeddings, kept by target_magnitude's ** 2", context.perToken(hidden, residual)),
      TensorTerm(
        "\(projections) AltUp projections: output cast and its product with the target magnitude, 2 magnitudes each",
        projections * (2 * context.perToken(hidden, residual) + 2 * context.perToken(1, 4))),
      TensorTerm("their LoRA branches", altUpBranches),
      TensorTerm("per_layer_model_projection's LoRA branch", branch("per_layer_model_projection")),
      TensorTerm("the multimodal embedders run on every token", embedders(context, adapted: adapted)),
    ].filter { $0.bytes > .zero }
  }
}

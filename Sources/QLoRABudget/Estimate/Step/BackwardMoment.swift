/// The largest moment of one decoder layer's backward, above the kept activations, walked block
/// by block in the order autograd runs them: the MLP first, then attention.
///
/// - MLP block: every tensor the layer saved (recomputed just before, with checkpointing), the
///   MLP's backward temporaries, the dequantized weight of the largest 4-bit MLP projection
///   (bitsandbytes dequantizes again for the input's gradient), and the incoming and outgoing
///   gradients of the residual stream (`2 x tokens x hidden` in the residual dtype).
/// - Attention block: only what the layer saved before the MLP (the MLP's saved tensors are
///   released as its nodes run: `Node::release_variables` after `apply` when the graph is not
///   retained), attention's backward temporaries, the largest 4-bit attention projection
///   dequantized, and the same residual gradients.
/// Without checkpointing the layer's saved tensors are already in the kept bytes, so only the
/// temporaries (and, for attention, minus the freed MLP tensors) are on top.
/// Checked: fitcheck-t4's eager runs (a large attention temporary beside a large MLP), which the
/// whole-layer sum (saved + largest temporary + largest dequantized weight at once) overestimated
/// by up to 8%.
struct BackwardMoment {
  let feedForward: ByteCount
  let attention: ByteCount
  var bytes: ByteCount { max(feedForward, attention) }
  /// The residual stream's gradient: one comes in, one goes out (`tokens x hidden` each).
  let residualGradient: ByteCount
  /// The gradient the first layer sends out, for its input (the embeddings' output): narrower
  /// than the stream's when the stream turns fp32 after it (``StepContext/stream``).
  let firstLayerInputGradient: ByteCount
  /// How much less the first layer's moment is than the others' for that narrower gradient.
  var firstLayerNarrowing: ByteCount { residualGradient - firstLayerInputGradient }
  /// The largest 4-bit weight of each block, dequantized.
  let feedForwardDequant: ByteCount
  let attentionDequant: ByteCount

  init(_ context: StepContext, layer: LayerActivations, recomputed: Bool) {
    let onTop = recomputed ? layer.savedBytes : .zero
    let feedForwardSaved = layer.savedBytes - layer.attentionSaved
    residualGradient = context.perToken(context.model.hiddenSize, context.stream)
    firstLayerInputGradient = context.perToken(context.model.hiddenSize, context.embeddingOutput)
    let upstream = 2 * residualGradient
    feedForwardDequant = DequantBuffers.largest(context) { !$0.input.isAttention }
    attentionDequant = DequantBuffers.largest(context) { $0.input.isAttention }
    feedForward = onTop + layer.feedForwardBackwardTransient + feedForwardDequant + upstream
    let attentionTotal = onTop + layer.attentionBackwardTransient + attentionDequant + upstream
    attention = attentionTotal > feedForwardSaved ? attentionTotal - feedForwardSaved : .zero
  }
}

/// What the MLP saves for backward.
///
/// Gated (SwiGLU/GeGLU: `down(act(gate(x)) * up(x))`): the activation saves its input (gate's
/// output), the product saves both factors (the activation's output and up's output); the
/// product is down_proj's input. Phi-3's fused gate_up keeps the whole `2 x intermediate` output
/// (both halves are views of one storage). GPT-2's plain MLP saves c_fc's output for GELU.
/// Backward holds the gradients of the intermediate tensors (about three `tokens x intermediate`).
///
/// MoE (Mixtral, Qwen MoE): tokens are routed to k of E experts. Assumption: routing is uniform,
/// so each expert sees tokens*k/E tokens on average and the experts together process tokens*k
/// token-rows; each expert row saves gate, activation and up outputs like a dense MLP, and the
/// weighted sum saves the experts' outputs (`tokens*k x hidden`) and the router's fp32
/// probabilities (`tokens x E`). A shared expert is a dense MLP of its own size. Real routing is
/// not uniform within a batch; the total over experts is the same, the largest transient is not.
/// Sources: transformers 5.23 `modeling_llama.py` LlamaMLP, `modeling_mixtral.py`,
/// `modeling_qwen2_moe.py`; PyTorch derivatives.yaml (`silu`, `gelu`, `mul`).
struct FeedForwardActivations {
  let saved: [TensorTerm]
  /// The gradients of the intermediate tensors, one entry per tensor.
  let backwardTransients: [ByteCount]
  /// down_proj's input: its width and dtype width (shared with its LoRA branch).
  let downInput: (features: Int64, width: Int64)

  /// A dense MLP of `intermediate` features whose projections output `g`-byte elements.
  init(_ context: StepContext, intermediate: Int64, outputWidth g: Int64) {
    switch context.model.layout.feedForward {
    case .gated:
      saved = [
        TensorTerm("gate output, activation output, up output", 3 * context.perToken(intermediate, g), tensors: 3)
      ]
    case .fusedGateUp:
      saved = [TensorTerm("gate_up output, activation output", 3 * context.perToken(intermediate, g))]
    case .plain:
      saved = [TensorTerm("c_fc output (GELU input)", context.perToken(intermediate, g))]
    }
    backwardTransients = Array(repeating: context.perToken(intermediate, g), count: 3)
    downInput = (intermediate, g)
  }

  /// The routed experts of one sparse layer (without the shared expert).
  static func experts(_ context: StepContext, _ moe: MixtureOfExperts, outputWidth g: Int64) -> (
    saved: [TensorTerm], transient: ByteCount
  ) {
    let rows = StepContext.product([context.tokens, moe.expertRowsPerToken]) ?? Int64.max
    let hidden = context.model.hiddenSize
    let expertWidth = context.autocast ? context.compute : g
    let saved = [
      TensorTerm(
        "experts: gate, activation, up outputs for tokens*k = \(rows) rows (uniform routing: tokens*k/E per expert)",
        StepContext.bytes(rows, moe.expertIntermediateSize, width: 3 * expertWidth)),
      TensorTerm(
        "experts' outputs kept by the routing-weight product", StepContext.bytes(rows, hidden, width: expertWidth)),
      TensorTerm("router probabilities (fp32)", context.perToken(moe.expertCount, 4)),
    ]
    let perExpertRows = max(1, rows / max(1, moe.expertCount))
    return (saved, StepContext.bytes(perExpertRows, moe.expertIntermediateSize, width: 3 * expertWidth))
  }
}

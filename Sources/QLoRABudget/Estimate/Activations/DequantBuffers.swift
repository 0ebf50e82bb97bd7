/// The temporary dequantized weight of a 4-bit matmul.
///
/// bitsandbytes' `MatMul4Bit` dequantizes the whole `out x in` weight, then runs a dense matmul
/// (forward, and again in backward for the input's gradient); one exists at a time, so the
/// largest 4-bit weight sets the term. transformers always hands `Linear4bit` a compute dtype
/// (`bnb_4bit_compute_dtype`), which sets `compute_type_is_set`, so `Linear4bit.forward` casts its
/// input to that dtype (`x = x.to(self.compute_dtype)`), dequantizes into it, and casts the
/// output back to the input's dtype: the buffer is `out x in` in the compute dtype, whatever the
/// residual stream's dtype. A recipe that quantizes lm_head (LitGPT) dequantizes it too: the
/// largest weight of most models. Sources: bitsandbytes 0.50.2 `nn/modules.py`
/// `Linear4bit.forward` (L119-134), `autograd/_functions.py` MatMul4Bit. Checked: cpu-steps
/// `phi-3-mini-4k-s1024-b1-r16-gc-sdpa`, whose 16,384 x 3,072 gate_up_proj would otherwise set a
/// backward moment 18% above the one measured.
struct DequantBuffers: Sendable {
  let bytes: ByteCount
  /// The largest 4-bit weight; nil without 4-bit weights.
  private let largest: LinearModule?
  /// lm_head's elements when the recipe quantizes it, else 0.
  private let head: Int64
  private let width: Int64

  init(_ context: StepContext) {
    let modules =
      context.setup.effectiveQuantization.isFourBit ? context.model.inventory.linears(in: context.setup.recipe.linearRoles) : []
    let largest = modules.max(by: { $0.weightElements < $1.weightElements })
    let head = BaseWeights.outputHead(context.model, context.setup) ?? 0
    self.largest = largest
    self.head = head
    width = context.compute
    bytes = StepContext.bytes(max(largest?.weightElements ?? 0, head), width: context.compute)
  }

  /// The dequantized bytes of the largest 4-bit weight among the modules `matching` picks.
  static func largest(_ context: StepContext, matching: (LinearModule) -> Bool) -> ByteCount {
    guard context.setup.effectiveQuantization.isFourBit else { return .zero }
    let elements = context.model.inventory.linears(in: context.setup.recipe.linearRoles).filter(matching)
      .map(\.weightElements).max() ?? 0
    return StepContext.bytes(elements, width: context.compute)
  }

  var formula: String {
    guard let largest else { return "no 4-bit weights: no dequantization buffer" }
    if head > largest.weightElements {
      return "largest 4-bit weight lm_head \(NumberText.grouped(head)) elements dequantized to the compute dtype "
        + "(\(width) B) = \(NumberText.grouped(bytes.bytes))"
    }
    return "largest 4-bit weight \(largest.path) \(largest.outFeatures) x \(largest.inFeatures) "
      + "dequantized to the compute dtype (\(width) B) = \(NumberText.grouped(bytes.bytes))"
  }
}

/// The temporary dequantized weight of a 4-bit matmul.
///
/// bitsandbytes' `MatMul4Bit` dequantizes the whole `out x in` weight, then runs a dense matmul
/// (forward, and again in backward for the input's gradient); one exists at a time, so the
/// largest 4-bit weight sets the term. It dequantizes to the layer's compute dtype, which
/// `Linear4bit.set_compute_type` silently sets to the first input's dtype when that is fp32 or
/// bf16 (fp32 when the residual stream was upcast); under autocast the dense matmul then casts
/// the fp32 weight to the compute dtype (one more copy).
/// Sources: bitsandbytes 0.50.2 `autograd/_functions.py` MatMul4Bit, `nn/modules.py` L575-637.
struct DequantBuffers: Sendable {
  let bytes: ByteCount
  /// The largest 4-bit weight; nil without 4-bit weights.
  private let largest: LinearModule?
  /// lm_head's elements when the recipe quantizes it, else 0.
  private let head: Int64
  private let width: Int64
  private let cast: Int64

  init(_ context: StepContext) {
    let modules =
      context.setup.effectiveQuantization.isFourBit ? context.model.inventory.linears(in: context.setup.recipe.linearRoles) : []
    let largest = modules.max(by: { $0.weightElements < $1.weightElements })
    let width = context.normOutput
    let cast: Int64 = context.autocast && width != context.compute ? context.compute : 0
    // A recipe that quantizes lm_head (LitGPT) dequantizes it too: the largest weight of most models.
    let head = BaseWeights.outputHead(context.model, context.setup) ?? 0
    self.largest = largest
    self.head = head
    self.width = width
    self.cast = cast
    bytes = StepContext.bytes(max(largest?.weightElements ?? 0, head), width: width + cast)
  }

  var formula: String {
    guard let largest else { return "no 4-bit weights: no dequantization buffer" }
    if head > largest.weightElements {
      return "largest 4-bit weight lm_head \(NumberText.grouped(head)) elements dequantized to \(width) B"
        + (cast > 0 ? " + its \(cast) B autocast copy" : "") + " = \(NumberText.grouped(bytes.bytes))"
    }
    return "largest 4-bit weight \(largest.path) \(largest.outFeatures) x \(largest.inFeatures) "
      + "dequantized to \(width) B" + (cast > 0 ? " + its \(cast) B autocast copy" : "")
      + " = \(NumberText.grouped(bytes.bytes))"
  }
}

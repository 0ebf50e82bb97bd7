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
///
/// LLM.int8 (`MatMul8bitLt`) multiplies int8 by int8 in forward, with no dequantized weight; its
/// backward rebuilds one for the input's gradient: `CB = state.CB.to(ctx.dtype_A, copy=True)
/// .mul_(SCB / 127)`, an `out x in` weight in the dtype of the layer's input (`ctx.dtype_A`: the
/// input is not cast, so fp32 where prepare_model_for_kbit_training upcast the norms, the compute
/// dtype for o_proj after autocast's attention). Source: bitsandbytes `autograd/_functions.py`
/// MatMul8bitLt.backward (the `req_gradA` branch). On CUDA its forward allocates no weight but the
/// quantized input, the int32 product and its fp16 dequantization; on CPU, `MatMul8bitFp`
/// rebuilds the weight in forward too (``Int8Temporaries``): the projection whose forward
/// allocates the most sets the forward term, and with checkpointing the recomputed forward's in
/// backward too.
struct DequantBuffers: Sendable {
  /// The buffers forward holds (backward's are in ``BackwardMoment`` through ``largest(_:matching:)``).
  let bytes: ByteCount
  /// The largest buffer of the step, forward or backward: the breakdown's row.
  let largestBytes: ByteCount
  /// The largest quantized weight that is dequantized; nil without such weights.
  private let largest: LinearModule?
  /// LLM.int8: the projection whose forward temporaries are the largest.
  private let largestForward: LinearModule?
  /// lm_head's elements when the recipe quantizes it, else 0.
  private let head: Int64
  private let width: Int64
  /// The compute dtype's width (``width`` is larger when the moment has an fp16 copy too).
  private let compute: Int64
  private let isInt8: Bool
  /// bitsandbytes trains int8 on CPU through `MatMul8bitFp` (``Int8Temporaries``).
  private let onCPU: Bool

  init(_ context: StepContext) {
    let quantization = context.setup.effectiveQuantization
    let modules = context.quantizedLinears
    isInt8 = quantization == .int8
    compute = context.compute
    onCPU = context.platform == .cpu
    let head = BaseWeights.outputHead(context.model, context.setup) ?? 0
    self.head = head
    if isInt8 {
      let widest = modules.max { Self.int8Bytes($0, context) < Self.int8Bytes($1, context) }
      let forward = modules.max { Self.int8Forward($0, context) < Self.int8Forward($1, context) }
      largest = widest
      largestForward = forward
      width = widest.map { Self.inputWidth($0, context) } ?? context.compute
      bytes = forward.map { Self.int8Forward($0, context) } ?? .zero
      largestBytes = max(bytes, widest.map { Self.int8Bytes($0, context) } ?? .zero)
    } else {
      largestForward = nil
      largest = modules.max(by: { $0.weightElements < $1.weightElements })
      width = Self.fourBitWidth(context)
      bytes = StepContext.bytes(max(largest?.weightElements ?? 0, head), width: width)
      largestBytes = bytes
    }
  }

  /// The dequantized bytes of the largest quantized weight among the modules `matching` picks,
  /// as backward rebuilds it for the input's gradient. LLM.int8 with checkpointing: or the
  /// recomputed forward's temporaries of those modules when larger, a bound of that moment
  /// (it comes before the block's backward temporaries and with the layer only partly rebuilt).
  static func largest(_ context: StepContext, matching: (LinearModule) -> Bool) -> ByteCount {
    let quantization = context.setup.effectiveQuantization
    guard quantization.isQuantized else { return .zero }
    let modules = context.quantizedLinears.filter(matching)
    if quantization == .int8 {
      let rebuilt = modules.map { int8Bytes($0, context) }.max() ?? .zero
      guard context.setup.usesGradientCheckpointing else { return rebuilt }
      return max(rebuilt, modules.map { int8Forward($0, context) }.max() ?? .zero)
    }
    return StepContext.bytes(modules.map(\.weightElements).max() ?? 0, width: fourBitWidth(context))
  }

  /// Bytes per element of a 4-bit weight's dequantization moment: the compute dtype, plus the
  /// fp16 buffer `dequantize_4bit` returns first when the weights were quantized from fp16 and
  /// the compute dtype is another (``FrameworkModelCode/quantizesFromHalf``).
  static func fourBitWidth(_ context: StepContext) -> Int64 {
    let fromHalf = context.setup.recipe.modelCode?.quantizesFromHalf == true && context.setup.computeDtype != .fp16
    return context.compute + (fromHalf ? 2 : 0)
  }

  /// The width of an int8 layer's input: the norm's output, or for the attention output the
  /// compute dtype under autocast (SDPA and the eager matmuls are autocast ops).
  private static func inputWidth(_ module: LinearModule, _ context: StepContext) -> Int64 {
    module.input == .attentionOutput && context.autocast ? context.compute : context.normOutput
  }

  private static func int8Bytes(_ module: LinearModule, _ context: StepContext) -> ByteCount {
    Int8Temporaries.rebuiltWeight(module, inputWidth: inputWidth(module, context))
  }

  private static func int8Forward(_ module: LinearModule, _ context: StepContext) -> ByteCount {
    Int8Temporaries.forward(module, inputWidth: inputWidth(module, context), context)
  }

  var source: String {
    isInt8
      ? "bitsandbytes 0.50.2 autograd/_functions.py MatMul8bitLt (MatMul8bitFp on CPU), backends/cuda/ops.py"
      : "bitsandbytes 0.50.2 MatMul4Bit / Linear4bit.set_compute_type"
  }

  var formula: String {
    if isInt8, let largest, let largestForward {
      let what =
        onCPU
        ? "MatMul8bitFp rebuilds the weight"
        : "MatMul8bitLt: quantized input, int32 product and its fp16 dequantization"
      let forward =
        "int8 forward: \(largestForward.path) \(largestForward.outFeatures) x \(largestForward.inFeatures) "
        + "allocates \(NumberText.grouped(bytes.bytes)) (\(what))"
      return forward + "; backward (input gradient): largest weight \(largest.path) \(largest.outFeatures) x "
        + "\(largest.inFeatures) rebuilt in its input's dtype (\(width) B) = "
        + NumberText.grouped(Int8Temporaries.rebuiltWeight(largest, inputWidth: width).bytes)
    }
    guard let largest else { return "no 4-bit weights: no dequantization buffer" }
    let into =
      width > compute
      ? "to fp16, then cast to the compute dtype (2 + \(compute) B)" : "to the compute dtype (\(width) B)"
    if head > largest.weightElements {
      return "largest 4-bit weight lm_head \(NumberText.grouped(head)) elements dequantized \(into) = "
        + NumberText.grouped(bytes.bytes)
    }
    return "largest 4-bit weight \(largest.path) \(largest.outFeatures) x \(largest.inFeatures) "
      + "dequantized \(into) = \(NumberText.grouped(bytes.bytes))"
  }
}

/// What one LLM.int8 projection allocates in its forward beside its input and its output.
///
/// On CUDA, bitsandbytes 0.50.2 `MatMul8bitLt.forward` (autograd/_functions.py) quantizes the
/// input row-wise, `F.int8_vectorwise_quant(A.to(torch.float16), threshold)`, then with
/// transformers' default `llm_int8_threshold` 6.0 (> 0) runs `int8_mixed_scaled_mm`, which is
/// `int8_scaled_mm`: `int8_linear_matmul` into an int32 `tokens x out`, then `int8_mm_dequant`
/// into an fp16 `tokens x out` (the CUDA kernel writes fp16 only) returned `.to(A.dtype)`.
/// Two moments, the larger is the term (backends/cuda/ops.py):
/// - quantize: the fp16 copy of the input (none when it is already fp16), the int8 copy (1 B)
///   and fp32 row stats (4 B per token), and the outlier scan `A.abs() >= threshold` (the fp16
///   `abs` and the bool mask, alive together);
/// - multiply: the int8 copy and row stats (the forward's locals), the int32 product and the
///   fp16 dequantized product (which is the output itself when the input is fp16).
/// The outlier columns (`subA`, the dequantized `subB`, `addmm`'s result after the int32 and
/// fp16 products are freed) depend on the data and are not counted.
///
/// On CPU, training goes through `MatMul8bitFp` instead (`bnb.matmul`: `state.is_training` on a
/// cpu device), which rebuilds the 16-bit weight in the input's dtype
/// (`state.CB.data.to(A.dtype).mul_(...)`) and calls `F.linear`: the weight is the temporary.
enum Int8Temporaries {
  /// The larger of a projection's forward moments, for an input of `inputWidth` bytes.
  static func forward(_ module: LinearModule, inputWidth: Int64, _ context: StepContext) -> ByteCount {
    if context.platform == .cpu { return rebuiltWeight(module, inputWidth: inputWidth) }
    let inputIsHalf = inputWidth == 2 && context.setup.computeDtype.tensorDtype == .float16
    let halfCopy = inputIsHalf ? ByteCount.zero : context.perToken(module.inFeatures, 2)
    let quantized = context.perToken(module.inFeatures, 1) + context.perToken(1, 4)
    let outlierScan = context.perToken(module.inFeatures, 2) + context.perToken(module.inFeatures, 1)
    let quantize = halfCopy + quantized + outlierScan
    let halfProduct = inputIsHalf ? ByteCount.zero : context.perToken(module.outFeatures, 2)
    let multiply = quantized + context.perToken(module.outFeatures, 4) + halfProduct
    return max(quantize, multiply)
  }

  /// The `out x in` weight rebuilt in the input's dtype: `MatMul8bitLt.backward` for the input's
  /// gradient (`state.CB.to(ctx.dtype_A, copy=True).mul_(SCB / 127)`), and `MatMul8bitFp`'s
  /// forward and backward alike.
  static func rebuiltWeight(_ module: LinearModule, inputWidth: Int64) -> ByteCount {
    StepContext.bytes(module.weightElements, width: inputWidth)
  }
}

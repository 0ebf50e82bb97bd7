/// The buffers of one torchao `NF4Tensor` (torchtune's QLoRA base weights).
///
/// `to_nf4(weight, block_size=64, scaler_block_size=256)` (`nf4_tensor.py` L1077) builds, for a
/// weight of `n` elements in the weight's dtype `d` (bf16 in torchtune, 2 bytes):
///
/// | buffer | bytes | source (`torchao/quantization/quantize_/workflows/nf4/nf4_tensor.py` @36027d82) |
/// | --- | --- | --- |
/// | `quantized_data` | n / 2 (two codes a byte) | L806-843 `convert_to_norm_float_weight` |
/// | `quantized_scalers` | n / 64 (one int8 per block) | L775 `.to(torch.int8)` |
/// | `quantization_factor` | (n / 64) / 256 x d | L762 `256 / (2 * scaler_absmax)`, absmax in the input dtype |
/// | `scaler_mean` | d (one scalar) | L748 `scalers_1.mean()` |
/// | `nf4` | 16 x d (the code) | L666-686 `torch.tensor([...], dtype=input_tensor.dtype)` |
///
/// Unlike bitsandbytes' double quantization (uint8 codes through a 256-entry fp32 dynamic map,
/// fp32 nested absmax), the scalers are linear int8 and their per-256 factors stay in the
/// weight's dtype: about 4.126 bits per parameter in bf16. torchao asserts that `n` is a
/// multiple of 64 and `n / 64` a multiple of 256; other shapes are counted rounded up.
///
/// torchao 0.1 (`nf4tensor.py` @ff288954, v0.1, 2024-04-04, the version torchtune 0.1 pinned)
/// computes the factors as `256 / (2 * scaler_absmax)` over the absmax expanded to one entry per
/// scaler, then keeps `quantization_factor[:, 0]`: a view, so the whole `nb`-entry storage stays
/// alive (`keepsFactorPerScaler`: `nb x d` bytes instead of `ceil(nb/256) x d`). torchao made it
/// contiguous in #298 (2024-05-31).
package struct TorchAONF4Buffers: Hashable, Sendable {
  /// Scalers per quantization factor (torchtune's `scaler_block_size`).
  public static let scalerBlockSize: Int64 = 256

  public let quantizedData: ByteCount
  public let quantizedScalers: ByteCount
  public let quantizationFactor: ByteCount
  public let scalerMean: ByteCount
  public let code: ByteCount

  /// The buffers for a weight of `elementCount` elements stored in `dtype`; `keepsFactorPerScaler`
  /// for torchao 0.1's factor storage (one entry per scaler).
  ///
  /// A negative `elementCount` or a `blockSize` under 1 makes every buffer
  /// ``ByteCount/overflow`` (refused by the estimator), never a trap.
  public init(elementCount: Int64, blockSize: Int64, dtype: TensorDtype, keepsFactorPerScaler: Bool = false) {
    guard elementCount >= 0, blockSize > 0 else {
      (quantizedData, quantizedScalers, quantizationFactor, scalerMean, code) = (
        .overflow, .overflow, .overflow, .overflow, .overflow
      )
      return
    }
    let blocks = Self.ceilDiv(elementCount, blockSize)
    quantizedData = .elements(elementCount, bitsEach: 4)
    quantizedScalers = .elements(blocks, bytesEach: 1)
    let factors = Self.ceilDiv(blocks, Self.scalerBlockSize)
    quantizationFactor = .elements(
      keepsFactorPerScaler ? factors * Self.scalerBlockSize : factors, bytesEach: dtype.byteWidth)
    scalerMean = .elements(1, bytesEach: dtype.byteWidth)
    code = .elements(16, bytesEach: dtype.byteWidth)
  }

  /// All buffers.
  public var total: ByteCount { quantizedData + quantizedScalers + quantizationFactor + scalerMean + code }

  private static func ceilDiv(_ a: Int64, _ b: Int64) -> Int64 { a / b + (a % b == 0 ? 0 : 1) }
}

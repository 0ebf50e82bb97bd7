/// The buffers bitsandbytes allocates for one 4-bit (NF4 or FP4) weight.
///
/// For a weight of `n` elements in blocks of `B` (bnb's default 64), `nb = ceil(n / B)` blocks:
///
/// | buffer | without double quantization | with double quantization |
/// | --- | --- | --- |
/// | packed codes | ceil(n / 2) | ceil(n / 2) |
/// | absmax | 4 * nb (fp32) | nb (uint8 codes of absmax - offset) |
/// | nested absmax | 0 | 4 * ceil(nb / 256) (fp32) |
/// | nested code | 0 | 1024 (the 256-entry fp32 dynamic map) |
/// | offset | 0 | 4 (fp32 mean of absmax) |
/// | code | 64 (the 16-entry fp32 4-bit code) | 64 |
///
/// That is 4.5 bits per parameter without double quantization and about 4.127 with it.
/// Sources: bitsandbytes `functional.quantize_4bit` and `QuantState`; QLoRA paper section 3;
/// checked to the byte against transformers + bitsandbytes in
/// Tests/Calibration/hf-peft-bnb-bytes.json and against the NF4 engine's buffers.
package struct FourBitWeightBuffers: Hashable, Sendable {
  /// The block size of the double quantization of absmax (bitsandbytes' fixed 256).
  public static let nestedBlockSize: Int64 = 256

  public let packed: ByteCount
  public let absmax: ByteCount
  public let nestedAbsmax: ByteCount
  public let nestedCode: ByteCount
  public let offset: ByteCount
  public let code: ByteCount

  /// The buffers for a weight of `elementCount` elements.
  ///
  /// A negative `elementCount` or a `blockSize` under 1 makes every buffer
  /// ``ByteCount/overflow`` (refused by the estimator), never a trap.
  public init(elementCount: Int64, blockSize: Int64, doubleQuantization: Bool) {
    guard elementCount >= 0, blockSize > 0 else {
      (packed, absmax, nestedAbsmax, nestedCode, offset, code) = (
        .overflow, .overflow, .overflow, .overflow, .overflow, .overflow
      )
      return
    }
    let blocks = Self.ceilDiv(elementCount, blockSize)
    packed = .elements(elementCount, bitsEach: 4)
    code = .elements(16, bytesEach: 4)
    if doubleQuantization {
      absmax = .elements(blocks, bytesEach: 1)
      nestedAbsmax = .elements(Self.ceilDiv(blocks, Self.nestedBlockSize), bytesEach: 4)
      nestedCode = .elements(256, bytesEach: 4)
      offset = .elements(1, bytesEach: 4)
    } else {
      absmax = .elements(blocks, bytesEach: 4)
      nestedAbsmax = .zero
      nestedCode = .zero
      offset = .zero
    }
  }

  /// Everything but the packed codes: what transformers reports as the quant state.
  public var quantState: ByteCount { absmax + nestedAbsmax + nestedCode + offset + code }

  /// All buffers.
  public var total: ByteCount { packed + quantState }

  private static func ceilDiv(_ a: Int64, _ b: Int64) -> Int64 { a / b + (a % b == 0 ? 0 : 1) }
}

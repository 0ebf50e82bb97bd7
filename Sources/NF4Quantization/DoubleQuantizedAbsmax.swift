/// Per-block absmax values stored in 8 bits: QLoRA's double quantization, as bitsandbytes does it.
///
/// For absmax values `a[0..<nb]` (float32):
/// - `offset = mean(a)` in float32, summed in PyTorch's order (``TorchCascadeSum``);
/// - `y[i] = a[i] - offset`, in nested blocks of 256;
/// - per nested block `a2 = max |y|` (float32; ``nestedAbsmax``);
/// - `codes[i]` = the ``DynamicMap`` code nearest to `y[i] * (1 / a2)`, ties to the even code
///   (`a2 == 0`, every `y` zero: code 127, the map's 0.0).
///
/// Dequantized: `a'[i] = Float(Float(DynamicMap.values[codes[i]] * a2) + offset)`, exactly
/// bitsandbytes' `dequantize_blockwise(...) + offset`.
///
/// bitsandbytes' CPU 8-bit quantizer finds the nearest code through a 65,536-bin lookup table,
/// so it can pick the neighbour of the nearest code for a value within one bin (2/65536) of a
/// midpoint; the golden tests allow exactly that and count those positions.
public struct DoubleQuantizedAbsmax: Hashable, Sendable {
  /// Absmax values per nested block (bitsandbytes' fixed 256).
  public static let nestedBlockSize = 256

  /// One 8-bit code per 4-bit block.
  public let codes: [UInt8]
  /// One float32 scale per nested block of 256 codes.
  public let nestedAbsmax: [Float]
  /// The mean of the original absmax values, added back when dequantizing.
  public let offset: Float

  /// Double-quantizes `absmax` (one float32 per 4-bit block).
  public init(quantizing absmax: [Float]) {
    let offset = absmax.withUnsafeBufferPointer { TorchCascadeSum.sum($0) } / Float(absmax.count)
    let shifted = absmax.map { $0 - offset }
    var scales: [Float] = []
    var codes: [UInt8] = []
    codes.reserveCapacity(shifted.count)
    for start in stride(from: 0, to: shifted.count, by: Self.nestedBlockSize) {
      let block = shifted[start..<min(start + Self.nestedBlockSize, shifted.count)]
      // bitsandbytes' C loop uses fmax, which skips NaN.
      let scale = block.reduce(Float(0)) { max($0, $1.magnitude.isNaN ? $0 : $1.magnitude) }
      let inverse = scale == 0 ? 0 : 1 / scale
      scales.append(scale)
      codes.append(contentsOf: block.map { DynamicMap.nearestCode($0 * inverse) })
    }
    self.codes = codes
    self.nestedAbsmax = scales
    self.offset = offset
  }

  /// State read back from storage, validated: one nested scale per 256 codes.
  ///
  /// - Throws: ``QuantizationError/bufferCountMismatch(buffer:expected:actual:)``.
  public init(codes: [UInt8], nestedAbsmax: [Float], offset: Float) throws(QuantizationError) {
    let expected = (codes.count + Self.nestedBlockSize - 1) / Self.nestedBlockSize
    guard nestedAbsmax.count == expected else {
      throw .bufferCountMismatch(buffer: "nested_absmax", expected: expected, actual: nestedAbsmax.count)
    }
    self.codes = codes
    self.nestedAbsmax = nestedAbsmax
    self.offset = offset
  }

  /// The absmax values these codes stand for (see the type's formula).
  public func dequantized() -> [Float] {
    codes.indices.map { i in
      let scaled = DynamicMap.values[Int(codes[i])] * nestedAbsmax[i / Self.nestedBlockSize]
      return scaled + offset
    }
  }
}

extension QuantizedTensor {
  /// Quantizes `values` with the plain definition, one element at a time: the specification
  /// the fast kernels are tested against (same results, bit for bit).
  ///
  /// For each block: `absmax = max |x|` (NaN if any element is NaN); `s = max(absmax, 1e-38)`;
  /// a full block scales `x * (1 / s)`, the partial last block `x / s` (and stores `s`); the
  /// code of a scaled value `z` is `codesByValue[number of thresholds t with !(t >= z)]`; an odd
  /// count pads with the code of 0.0; two codes a byte, even element high.
  ///
  /// - Throws: ``QuantizationError`` if the shape is invalid, empty, or does not match the count.
  public static func reference<T: FourBitScalar>(
    quantizing values: [T], shape: [Int], settings: QuantizationSettings
  ) throws(QuantizationError) -> QuantizedTensor {
    let count = try validatedCount(shape: shape, valueCount: values.count)
    let blockSize = settings.blockSize
    var codes: [UInt8] = []
    var absmax: [Float] = []
    for start in stride(from: 0, to: count, by: blockSize) {
      let block = values[start..<min(start + blockSize, count)].map(\.floatValue)
      let isPartial = block.count < blockSize
      let largest = block.contains(where: \.isNaN) ? Float.nan : block.map(\.magnitude).max()!
      let clamped = largest < 1e-38 ? Float(1e-38) : largest
      absmax.append(isPartial ? clamped : largest)
      let inverse = 1 / clamped
      codes += block.map { referenceCode(isPartial ? $0 / clamped : $0 * inverse, settings.type) }
    }
    if count % 2 == 1 { codes.append(referenceCode(0, settings.type)) }
    let packed = stride(from: 0, to: codes.count, by: 2).map { codes[$0] << 4 | codes[$0 + 1] }
    let scales: BlockScales =
      settings.doubleQuantization ? .doubleQuantized(DoubleQuantizedAbsmax(quantizing: absmax)) : .float32(absmax)
    return QuantizedTensor(unchecked: settings, shape: shape, count: count, packed: packed, scales: scales)
  }

  /// The code of a value already divided by its block's absmax (the rule in ``reference(quantizing:shape:settings:)``).
  public static func referenceCode(_ z: Float, _ type: FourBitType) -> UInt8 {
    type.codesByValue[type.thresholds.filter { !($0 >= z) }.count]
  }

  /// The dequantized tensor, one element at a time: `T(codebook[q_i] * absmax[i / blockSize])`.
  public func referenceDequantized<T: FourBitScalar>(as _: T.Type = Float.self) -> [T] {
    let absmax = scales.absmax()
    return (0..<count).map { i in
      let byte = packed[i / 2]
      let code = i % 2 == 0 ? byte >> 4 : byte & 0x0F
      return T(roundingFloat: type.codebook[Int(code)] * absmax[i / blockSize])
    }
  }
}

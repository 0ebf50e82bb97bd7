import Foundation

/// How far a reconstruction is from the original values: what a 4-bit format costs.
///
/// Computed in Double over all elements: `MSE = sum (x - x')^2 / n`,
/// `maxAbsoluteError = max |x - x'|`, `SNR = 10 log10(sum x^2 / sum (x - x')^2)` dB
/// (infinite for an exact reconstruction).
public struct QuantizationErrorStatistics: Hashable, Sendable {
  public let meanSquaredError: Double
  public let maxAbsoluteError: Double
  public let signalToNoiseDecibels: Double
  /// The sums behind the figures, so statistics of several tensors combine exactly.
  public let elementCount: Int
  public let sumOfSquaredErrors: Double
  public let sumOfSquares: Double

  /// Statistics of `reconstructed` against `original`.
  ///
  /// - Throws: ``QuantizationError/countMismatch(shape:expected:actual:)`` unless both hold
  ///   the same, non-zero number of values.
  public init(original: [Float], reconstructed: [Float]) throws(QuantizationError) {
    guard original.count == reconstructed.count, !original.isEmpty else {
      throw .countMismatch(shape: [original.count], expected: original.count, actual: reconstructed.count)
    }
    var signal = 0.0
    var noise = 0.0
    var largest = 0.0
    for (x, y) in zip(original, reconstructed) {
      let error = Double(x) - Double(y)
      signal += Double(x) * Double(x)
      noise += error * error
      largest = max(largest, error.magnitude)
    }
    self.init(elementCount: original.count, sumOfSquaredErrors: noise, sumOfSquares: signal, maxAbsoluteError: largest)
  }

  private init(elementCount: Int, sumOfSquaredErrors noise: Double, sumOfSquares signal: Double, maxAbsoluteError: Double) {
    self.elementCount = elementCount
    sumOfSquaredErrors = noise
    sumOfSquares = signal
    meanSquaredError = noise / Double(max(elementCount, 1))
    self.maxAbsoluteError = maxAbsoluteError
    signalToNoiseDecibels = noise == 0 ? .infinity : 10 * log10(signal / noise)
  }

  /// The statistics of all elements of several tensors together (sums added, maxima taken).
  public static func combined(_ parts: [QuantizationErrorStatistics]) -> QuantizationErrorStatistics {
    QuantizationErrorStatistics(
      elementCount: parts.reduce(0) { $0 + $1.elementCount },
      sumOfSquaredErrors: parts.reduce(0) { $0 + $1.sumOfSquaredErrors },
      sumOfSquares: parts.reduce(0) { $0 + $1.sumOfSquares },
      maxAbsoluteError: parts.map(\.maxAbsoluteError).max() ?? 0)
  }

  /// The three 4-bit formats compared on one tensor, and the buffers NF4 quantization made.
  public struct FormatComparison: Sendable {
    public let rows: [(format: String, statistics: QuantizationErrorStatistics)]
    /// The bytes of the NF4 tensor's buffers, as the engine holds them.
    public let nf4Buffers: QuantizedBufferBytes
  }

  /// The three 4-bit formats compared: NF4 and FP4 (bitsandbytes, dequantized to float32) and
  /// round-to-nearest symmetric int4 with a float32 absmax per block, `q = round(x * 7 / absmax)`
  /// in -7...7 and `x' = q * absmax / 7` (ties to even; an all-zero block stays zero).
  public static func compareFormats(
    _ values: [Float], blockSize: Int, doubleQuantization: Bool
  ) throws(QuantizationError) -> FormatComparison {
    var rows: [(String, QuantizationErrorStatistics)] = []
    var nf4Buffers: QuantizedBufferBytes?
    for type in FourBitType.allCases {
      let settings = try QuantizationSettings(type: type, blockSize: blockSize, doubleQuantization: doubleQuantization)
      let tensor = try QuantizedTensor(quantizing: values, shape: [values.count], settings: settings)
      if type == .nf4 { nf4Buffers = tensor.bufferBytes }
      rows.append((type.rawValue, try QuantizationErrorStatistics(original: values, reconstructed: tensor.dequantized())))
    }
    rows.append(("int4", try QuantizationErrorStatistics(original: values, reconstructed: try roundToNearestInt4(values, blockSize: blockSize))))
    return FormatComparison(
      rows: rows,
      nf4Buffers: nf4Buffers ?? QuantizedBufferBytes(packed: 0, absmax: 0, nestedAbsmax: 0, nestedCode: 0, offset: 0, code: 0))
  }

  /// Symmetric absmax int4 round trip (see ``compareFormats(_:blockSize:doubleQuantization:)``).
  ///
  /// - Throws: ``QuantizationError/invalidBlockSize(_:)`` for a block size below 1.
  public static func roundToNearestInt4(_ values: [Float], blockSize: Int) throws(QuantizationError) -> [Float] {
    guard blockSize >= 1 else { throw .invalidBlockSize(blockSize) }
    var result: [Float] = []
    result.reserveCapacity(values.count)
    for start in stride(from: 0, to: values.count, by: blockSize) {
      let block = values[start..<min(start + blockSize, values.count)]
      let absmax = block.reduce(Float(0)) { max($0, $1.magnitude) }
      guard absmax > 0 else {
        result += block.map { _ in 0 }
        continue
      }
      result += block.map { x in
        let q = min(7, max(-7, (x * 7 / absmax).rounded(.toNearestOrEven)))
        return q * absmax / 7
      }
    }
    return result
  }
}

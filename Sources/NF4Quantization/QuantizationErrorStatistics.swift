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

  /// Statistics of `reconstructed` against `original` (the same count; a mismatch is a
  /// programmer error).
  public init(original: [Float], reconstructed: [Float]) {
    precondition(original.count == reconstructed.count && !original.isEmpty, "error statistics need two equal, non-empty arrays")
    var signal = 0.0
    var noise = 0.0
    var largest = 0.0
    for (x, y) in zip(original, reconstructed) {
      let error = Double(x) - Double(y)
      signal += Double(x) * Double(x)
      noise += error * error
      largest = max(largest, error.magnitude)
    }
    meanSquaredError = noise / Double(original.count)
    maxAbsoluteError = largest
    signalToNoiseDecibels = noise == 0 ? .infinity : 10 * log10(signal / noise)
  }

  /// The three 4-bit formats compared: NF4 and FP4 (bitsandbytes, dequantized to float32) and
  /// round-to-nearest symmetric int4 with a float32 absmax per block, `q = round(x * 7 / absmax)`
  /// in -7...7 and `x' = q * absmax / 7` (ties to even; an all-zero block stays zero).
  public static func compareFormats(
    _ values: [Float], blockSize: Int, doubleQuantization: Bool
  ) throws(QuantizationError) -> [(format: String, statistics: QuantizationErrorStatistics)] {
    var rows: [(String, QuantizationErrorStatistics)] = []
    for type in FourBitType.allCases {
      let settings = try QuantizationSettings(type: type, blockSize: blockSize, doubleQuantization: doubleQuantization)
      let tensor = try QuantizedTensor(quantizing: values, shape: [values.count], settings: settings)
      rows.append((type.rawValue, QuantizationErrorStatistics(original: values, reconstructed: tensor.dequantized())))
    }
    rows.append(("int4", QuantizationErrorStatistics(original: values, reconstructed: roundToNearestInt4(values, blockSize: blockSize))))
    return rows
  }

  /// Symmetric absmax int4 round trip (see ``compareFormats(_:blockSize:doubleQuantization:)``).
  public static func roundToNearestInt4(_ values: [Float], blockSize: Int) -> [Float] {
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

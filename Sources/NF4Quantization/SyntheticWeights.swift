import Foundation

/// Seeded normal weights for benchmarks and error statistics: the same seed gives the same
/// values on every run (and on every platform whose libm rounds `log`, `cos`, `sin` alike).
///
/// Generator: SplitMix64 (Steele, Lea, Flood 2014) for uniform 64-bit words; Box-Muller on two
/// 53-bit uniforms `u1` in (0, 1], `u2` in [0, 1) for each pair of normals:
/// `sqrt(-2 ln u1) * cos(2 pi u2)` and `... * sin(2 pi u2)`, computed in Double, scaled by
/// `standardDeviation` and rounded to float32.
public enum SyntheticWeights {
  /// The most values one call makes (2^28 floats, 1 GiB).
  public static let maximumCount = 1 << 28

  /// `count` values drawn from N(0, standardDeviation^2) with the given seed.
  ///
  ///     try SyntheticWeights.normal(count: 4, standardDeviation: 0.02, seed: 1)  // same 4 floats each run
  ///
  /// - Throws: ``QuantizationError/negativeDimension(shape:)`` for a negative count,
  ///   ``QuantizationError/elementCountOverflow(shape:)`` above ``maximumCount``.
  public static func normal(count: Int, standardDeviation: Float = 0.02, seed: UInt64 = 0) throws(QuantizationError)
    -> [Float]
  {
    guard count >= 0 else { throw .negativeDimension(shape: [count]) }
    guard count <= maximumCount else { throw .elementCountOverflow(shape: [count]) }
    var generator = SplitMix64(seed: seed)
    var values: [Float] = []
    values.reserveCapacity(count + 1)
    let sigma = Double(standardDeviation)
    while values.count < count {
      let u1 = Double((generator.next() >> 11) + 1) / 9_007_199_254_740_992  // (0, 1]
      let u2 = Double(generator.next() >> 11) / 9_007_199_254_740_992  // [0, 1)
      let radius = (-2 * log(u1)).squareRoot() * sigma
      values.append(Float(radius * cos(2 * .pi * u2)))
      values.append(Float(radius * sin(2 * .pi * u2)))
    }
    return Array(values.prefix(count))
  }
}

/// SplitMix64: a 64-bit state advanced by the golden-ratio increment, then mixed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  private var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

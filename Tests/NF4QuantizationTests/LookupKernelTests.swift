import NF4Quantization
import Testing

/// The lookup-table kernel against the reference, bit for bit, where a table could go wrong:
/// values on and next to every threshold, every cell of [-1, 1], ±0, subnormals, random
/// scales, 16-bit inputs and the partial last block (which divides instead of multiplying).
@Suite struct LookupKernelTests {
  /// Blocks of 64 whose first element is 1.0, so the absmax is 1 and the scaled value of every
  /// other element is the element itself: the kernel sees exactly the `z` values given.
  static func unitBlocks(_ scaled: [Float]) -> [Float] {
    var values: [Float] = []
    for start in stride(from: 0, to: scaled.count, by: 63) {
      values.append(1)
      values += scaled[start..<min(start + 63, scaled.count)]
      while values.count % 64 != 0 { values.append(0) }
    }
    return values
  }

  /// Every threshold of both types, and the 40 floats on either side of each.
  static var aroundThresholds: [Float] {
    var values: [Float] = []
    for type in FourBitType.allCases {
      for t in type.thresholds {
        var below = t
        var above = t
        values.append(t)
        for _ in 0..<40 {
          below = below.nextDown
          above = above.nextUp
          values += [below, above]
        }
      }
    }
    return values
  }

  @Test func valuesOnAndBesideEveryThreshold() throws {
    let values = Self.unitBlocks(
      Self.aroundThresholds + [
        0, -0.0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, Float(bitPattern: 0x000A_E398),
        -Float(bitPattern: 0x000A_E398), 1, -1, Float(1).nextDown, Float(-1).nextUp,
      ])
    try expectAgreement(values)
  }

  @Test func everyCellOfTheUnitInterval() throws {
    // 2^17 evenly spaced values from -1 to 1 (about 8 per cell of the table), plus both ends.
    let steps = 1 << 17
    let sweep = (0...steps).map { Float(-1) + 2 * Float($0) / Float(steps) }
    try expectAgreement(Self.unitBlocks(sweep))
  }

  @Test func scaledThresholdsWithOtherAbsmaxValues() throws {
    // Elements whose product with 1/absmax lands on or beside a threshold for absmax values
    // that are not powers of two (the product rounds).
    for absmax: Float in [0.02, 0.0371, 3.3, 1e-20, 1e30] {
      var values: [Float] = []
      for type in FourBitType.allCases {
        for t in type.thresholds {
          var x = t * absmax
          for _ in 0..<3 { x = x.nextDown }
          for _ in 0..<7 {
            values.append(x)
            x = x.nextUp
          }
        }
      }
      var blocks: [Float] = []
      for start in stride(from: 0, to: values.count, by: 63) {
        blocks.append(-absmax)
        blocks += values[start..<min(start + 63, values.count)]
        while blocks.count % 64 != 0 { blocks.append(absmax / 3) }
      }
      try expectAgreement(blocks)
    }
  }

  @Test func subnormalBlocksAndSignedZeros() throws {
    var values: [Float] = []
    for block in 0..<8 {
      for i in 0..<64 {
        let subnormal = Float(bitPattern: UInt32(1 + (i * 7919 + block * 104_729) % 0x7F_FFFF))
        values.append(i % 5 == 0 ? (i % 2 == 0 ? 0 : -0.0) : (i % 3 == 0 ? -subnormal : subnormal))
      }
    }
    try expectAgreement(values)
  }

  @Test(arguments: [1, 7, 63, 64, 65, 127, 1000, 4099])
  func randomScalesAndPartialLastBlocks(count: Int) throws {
    var generator = SplitMix64(seed: UInt64(count))
    let values = (0..<count).map { i -> Float in
      let exponent = Float(Int(generator.next() % 40) - 20)
      let unit = Float(generator.next() >> 40) / Float(1 << 24) * 2 - 1
      return i % 97 == 0 ? 0 : unit * Float.pow2(exponent)
    }
    try expectAgreement(values)
    try expectAgreement(values.map { BFloat16($0) })
    try expectAgreement(values.map { Float16($0) })
  }

  @Test func normalWeightsInEveryBlockSize() throws {
    let values = try SyntheticWeights.normal(count: 3 * 4096 + 50, standardDeviation: 0.02, seed: 11)
    for blockSize in QuantizationSettings.validBlockSizes {
      try expectAgreement(values, blockSize: blockSize)
    }
  }

  private func expectAgreement<T: FourBitScalar>(
    _ values: [T], blockSize: Int = 64, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    for type in FourBitType.allCases {
      let settings = try QuantizationSettings(type: type, blockSize: blockSize, doubleQuantization: false)
      let reference = try QuantizedTensor.reference(quantizing: values, shape: [values.count], settings: settings)
      let fast = try QuantizedTensor(quantizing: values, shape: [values.count], settings: settings, threads: 2)
      let mismatch = fast.packed.indices.first { fast.packed[$0] != reference.packed[$0] }
      #expect(fast.packed.count == reference.packed.count, sourceLocation: sourceLocation)
      #expect(
        mismatch == nil, "\(type) byte \(mismatch ?? -1): elements \(2 * (mismatch ?? 0)) and next",
        sourceLocation: sourceLocation)
      #expect(fast.scales == reference.scales, "\(type) absmax", sourceLocation: sourceLocation)
    }
  }
}

extension Float {
  fileprivate static func pow2(_ exponent: Float) -> Float {
    Float(sign: .plus, exponent: Int(exponent), significand: 1)
  }
}

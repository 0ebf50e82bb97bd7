import Foundation
import NF4Quantization
import Testing

/// The fast kernels equal the plain definition, bit for bit, across block boundaries, types,
/// input dtypes, thread counts and special values.
@Suite struct FastMatchesReferenceTests {
  static let counts = [1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 4095, 4096, 4097]

  /// Deterministic data with every kind of value: ggml's `0.1 + 2 cos(i)` pattern, scaled per
  /// block so blocks differ, plus exact zeros.
  static func pattern(_ count: Int) -> [Float] {
    (0..<count).map { i -> Float in
      if i % 11 == 0 { return 0 }
      let wave = Float(0.1 + 2 * cos(Double(i)))
      return wave * Float(1 + i / 64)
    }
  }

  @Test(arguments: counts, [32, 64, 256, 4096])
  func float32InputBothTypesWithAndWithoutDoubleQuantization(count: Int, blockSize: Int) throws {
    let values = Self.pattern(count)
    for type in FourBitType.allCases {
      for doubleQuantization in [false, true] {
        let settings = try QuantizationSettings(
          type: type, blockSize: blockSize, doubleQuantization: doubleQuantization)
        try expectAgreement(values, settings: settings)
      }
    }
  }

  @Test(arguments: [63, 64, 65, 1000])
  func sixteenBitInputs(count: Int) throws {
    let values = Self.pattern(count)
    let settings = try QuantizationSettings(type: .nf4, blockSize: 64, doubleQuantization: true)
    try expectAgreement(values.map { Float16($0) }, settings: settings)
    try expectAgreement(values.map { BFloat16($0) }, settings: settings)
  }

  @Test func specialValuesInEveryPosition() throws {
    let specials: [Float] = [
      .nan, .infinity, -.infinity, 0, -0.0, .leastNonzeroMagnitude, Float(bitPattern: 0x000A_E398), -1e-38,
      .greatestFiniteMagnitude,
    ]
    var values = Self.pattern(64 * 12 + 7)
    for (k, special) in specials.enumerated() { values[64 * k + k] = special }
    for type in FourBitType.allCases {
      let settings = try QuantizationSettings(type: type, blockSize: 64, doubleQuantization: false)
      try expectAgreement(values, settings: settings)
    }
  }

  @Test func synthetic4096x14336SliceAcrossThreads() throws {
    let values = try SyntheticWeights.normal(count: 4 * 14336, seed: 7)
    let settings = try QuantizationSettings()
    try expectAgreement(values, settings: settings, shape: [4, 14336])
  }

  private func expectAgreement<T: FourBitScalar>(
    _ values: [T], settings: QuantizationSettings, shape: [Int]? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let shape = shape ?? [values.count]
    let reference = try QuantizedTensor.reference(quantizing: values, shape: shape, settings: settings)
    for threads in [1, 3] {
      let fast = try QuantizedTensor(quantizing: values, shape: shape, settings: settings, threads: threads)
      #expect(fast.packed == reference.packed, "packed, \(threads) threads", sourceLocation: sourceLocation)
      #expect(
        fast.scales == reference.scales || bothNaN(fast.scales, reference.scales), "scales",
        sourceLocation: sourceLocation)
      let fastOut: [T] = fast.dequantized(as: T.self, threads: threads)
      let referenceOut: [T] = reference.referenceDequantized(as: T.self)
      #expect(bits(fastOut) == bits(referenceOut), "dequantized, \(threads) threads", sourceLocation: sourceLocation)
    }
  }

  /// `[Float]` equality fails on NaN; compare absmax bit patterns instead.
  private func bothNaN(_ a: BlockScales, _ b: BlockScales) -> Bool {
    guard case .float32(let x) = a, case .float32(let y) = b else { return false }
    return x.map(\.bitPattern) == y.map(\.bitPattern)
  }

  private func bits<T: FourBitScalar>(_ values: [T]) -> [UInt32] { values.map(\.floatValue.bitPattern) }
}

import Foundation
import NF4Quantization
import QLoRABudget
import QLoRABudgetInputs
import Testing

/// The engine against the estimator and against the definition of 4-bit quantization, over
/// random shapes and values from fixed SplitMix64 seeds (reproducible; failures name the case).
@Suite struct EnginePropertyTests {

  static let blockSizes = [32, 64, 128, 256, 512, 1024, 2048, 4096]

  static func randomShape(_ random: inout SplitMix64, maximum: Int) -> [Int] {
    switch random.int(0...2) {
    case 0: return [random.int(1...maximum)]
    case 1: return [random.int(1...64), random.int(1...max(1, maximum / 64))]
    default: return [random.int(1...8), random.int(1...16), random.int(1...max(1, maximum / 128))]
    }
  }

  static func randomSettings(_ random: inout SplitMix64, doubleQuantization: Bool? = nil) throws -> QuantizationSettings
  {
    try QuantizationSettings(
      type: random.bool() ? .nf4 : .fp4, blockSize: blockSizes[random.int(0...(blockSizes.count - 1))],
      doubleQuantization: doubleQuantization ?? random.bool())
  }

  /// Half the largest gap between neighbouring code values: the most a value in [-1, 1] can
  /// be from its nearest code.
  static func halfLargestGap(_ type: FourBitType) -> Float {
    let sorted = type.codebook.sorted()
    return zip(sorted, sorted.dropFirst()).map { $1 - $0 }.max()! / 2
  }

  /// The estimator's FourBitWeightBuffers equal the buffers the engine allocates, buffer by buffer.
  @Test func estimatorWeightBytesEqualTheEngineBuffers() throws {
    var random = SplitMix64(seed: 0xB0FF_0001)
    for index in 0..<120 {
      let shape = Self.randomShape(&random, maximum: 20_000)
      let settings = try Self.randomSettings(&random)
      let count = shape.reduce(1, *)
      let values = (0..<count).map { _ in random.weight(scale: 0.02) }
      let engine = try QuantizedTensor(quantizing: values, shape: shape, settings: settings).bufferBytes
      let formula = FourBitWeightBuffers(
        elementCount: Int64(count), blockSize: Int64(settings.blockSize),
        doubleQuantization: settings.doubleQuantization)
      let context = "case \(index): shape \(shape), \(settings)"
      #expect(formula.packed.bytes == engine.packed, "\(context)")
      #expect(formula.absmax.bytes == engine.absmax, "\(context)")
      #expect(formula.nestedAbsmax.bytes == engine.nestedAbsmax, "\(context)")
      #expect(formula.nestedCode.bytes == engine.nestedCode, "\(context)")
      #expect(formula.offset.bytes == engine.offset, "\(context)")
      #expect(formula.code.bytes == engine.code, "\(context)")
      #expect(formula.total.bytes == engine.total, "\(context)")
    }
  }

  /// Quantize then dequantize: every finite input comes back within half the largest code gap
  /// times its block's absmax (the absmax recomputed here from the input). With double
  /// quantization the stored absmax a' differs from a, which adds at most |a - a'|.
  @Test func quantizeThenDequantizeStaysWithinTheStep() throws {
    var random = SplitMix64(seed: 0xB0FF_0002)
    for index in 0..<150 {
      let shape = Self.randomShape(&random, maximum: 8_192)
      let settings = try Self.randomSettings(&random)
      let count = shape.reduce(1, *)
      let scale = Float(pow(10, Double(random.int(-3...3))))
      var values = (0..<count).map { _ in random.weight(scale: scale) }
      if random.int(0...4) == 0 {  // some exact zeros and a whole zero block
        for i in 0..<min(count, settings.blockSize) { values[i] = 0 }
      }
      let tensor = try QuantizedTensor(quantizing: values, shape: shape, settings: settings)
      let output: [Float] = tensor.dequantized()
      let stored = tensor.scales.absmax()
      let half = Self.halfLargestGap(settings.type)
      try #require(output.count == count && stored.count == (count + settings.blockSize - 1) / settings.blockSize)
      var worst: Float = 0
      for block in 0..<stored.count {
        let range = (block * settings.blockSize)..<min(count, (block + 1) * settings.blockSize)
        let absmax = values[range].map(\.magnitude).max()!
        let bound = half * absmax + (absmax - stored[block]).magnitude
        let tolerance = bound * 1e-5 + Float.leastNormalMagnitude
        for i in range {
          let error = (output[i] - values[i]).magnitude
          worst = max(worst, absmax > 0 ? error / absmax : error)
          #expect(
            error <= bound + tolerance,
            "case \(index) (\(settings), shape \(shape)) element \(i): \(values[i]) -> \(output[i]), bound \(bound)")
          if error > bound + tolerance { return }
        }
      }
      #expect(worst <= half * 1.01 || settings.doubleQuantization, "case \(index)")
    }
  }

  /// NaN and infinities give the documented outputs (NF4QuantizationTests/SpecialValueTests,
  /// bitsandbytes' CPU path), block by block, without double quantization: a block holding a
  /// NaN dequantizes to all NaN; a block holding +-inf (and no NaN) to +inf at those elements
  /// and NaN elsewhere; every other block is untouched by them.
  @Test func nanAndInfinityGiveTheDocumentedOutputs() throws {
    var random = SplitMix64(seed: 0xB0FF_0003)
    for index in 0..<100 {
      let settings = try Self.randomSettings(&random, doubleQuantization: false)
      let count = random.int(1...6_000)
      var values = (0..<count).map { _ in random.weight(scale: 1) }
      let blocks = (count + settings.blockSize - 1) / settings.blockSize
      var kind = [Int: Float]()  // block -> the special value put in it
      for _ in 0..<random.int(1...3) {
        let block = random.int(0...(blocks - 1))
        let special: Float = [.nan, .infinity, -.infinity][random.int(0...2)]
        if kind[block] != nil, kind[block]!.isNaN != special.isNaN { continue }  // one kind per block
        kind[block] = special
        let position =
          block * settings.blockSize
          + random.int(0...(min(count, (block + 1) * settings.blockSize) - block * settings.blockSize - 1))
        values[position] = special
      }
      let tensor = try QuantizedTensor(quantizing: values, shape: [count], settings: settings)
      let output: [Float] = tensor.dequantized()
      let half = Self.halfLargestGap(settings.type)
      for block in 0..<blocks {
        let range = (block * settings.blockSize)..<min(count, (block + 1) * settings.blockSize)
        let context = "case \(index) (\(settings)) block \(block)"
        switch kind[block] {
        case let special? where special.isNaN:
          #expect(range.allSatisfy { output[$0].isNaN }, "\(context)")
        case .some:
          for i in range {
            if values[i].isInfinite {
              #expect(output[i] == .infinity, "\(context) element \(i)")
            } else {
              #expect(output[i].isNaN, "\(context) element \(i)")
            }
          }
        case nil:
          let absmax = values[range].map(\.magnitude).max()!
          #expect(
            range.allSatisfy { (output[$0] - values[$0]).magnitude <= half * absmax * 1.00001 + .leastNormalMagnitude },
            "\(context)")
        }
      }
    }
  }

  /// With double quantization, special values still quantize and dequantize without a trap and
  /// with the right number of outputs.
  @Test func nanAndInfinityWithDoubleQuantizationDoNotTrap() throws {
    for special: Float in [.nan, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude] {
      var values = [Float](repeating: 0.5, count: 1_000)
      values[700] = special
      let settings = try QuantizationSettings(type: .nf4, blockSize: 64, doubleQuantization: true)
      let tensor = try QuantizedTensor(quantizing: values, shape: [1_000], settings: settings)
      let output: [Float] = tensor.dequantized()
      #expect(output.count == 1_000)
    }
  }
}

/// Test helpers on the engine's seeded generator.
extension SplitMix64 {
  mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
  mutating func bool() -> Bool { next() & 1 == 1 }
  /// A roughly normal value (sum of uniforms) times a scale spanning 10^-3 ... 10^3.
  mutating func weight(scale: Float) -> Float {
    let sum = (0..<4).reduce(Float(0)) { total, _ in total + Float.random(in: -1...1, using: &self) }
    return sum * scale
  }
}

import Foundation
import NF4Quantization
import QLoRABudget
import QLoRABudgetInputs
import Testing

/// The engine's real buffers equal the estimator's formula (`FourBitWeightBuffers`) to the byte,
/// for every golden case and for shapes around the block boundaries and real weight shapes.
@Suite struct EngineMatchesEstimatorTests {
  struct Case: Sendable, CustomTestStringConvertible {
    let shape: [Int]
    let blockSize: Int
    let doubleQuantization: Bool
    var testDescription: String { "\(shape) B=\(blockSize) DQ=\(doubleQuantization)" }
  }

  /// The settings of each golden file (NF4QuantizationTests/Fixtures/bnb-4bit).
  static let goldenCases: [Case] = {
    let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    let directory = tests.appendingPathComponent("NF4QuantizationTests/Fixtures/bnb-4bit")
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter {
      $0.hasSuffix(".json")
    }.sorted()
    struct Settings: Decodable {
      let count: Int
      let blocksize: Int
      let double_quant: Bool
    }
    return names.compactMap { name in
      guard let data = try? Data(contentsOf: directory.appendingPathComponent(name)),
        let settings = try? JSONDecoder().decode(Settings.self, from: data)
      else { return nil }
      return Case(shape: [settings.count], blockSize: settings.blocksize, doubleQuantization: settings.double_quant)
    }
  }()

  static let sweep: [Case] = [1, 63, 64, 65, 127, 128, 4095, 4096, 4097, 256 * 64 + 1].flatMap { n in
    [32, 64, 4096].flatMap { blockSize in
      [false, true].map { Case(shape: [n], blockSize: blockSize, doubleQuantization: $0) }
    }
  }

  /// Real projection shapes: Llama-3-8B's MLP (4096 x 14336) and k_proj (1024 x 4096), at the
  /// QLoRA default.
  static let realShapes: [Case] = [[4096, 14336], [1024, 4096]].map {
    Case(shape: $0, blockSize: 64, doubleQuantization: true)
  }

  @Test func goldenCasesArePresent() {
    #expect(!Self.goldenCases.isEmpty)
  }

  @Test(arguments: goldenCases + sweep)
  func bufferBytesEqualTheFormula(_ testCase: Case) throws {
    let count = testCase.shape.reduce(1, *)
    let values = (0..<count).map { Float16(Float($0 % 97) - 48) }
    try expectFormula(values, testCase)
  }

  @Test(arguments: realShapes)
  func realWeightShapes(_ testCase: Case) throws {
    let count = testCase.shape.reduce(1, *)
    try expectFormula([BFloat16](repeating: BFloat16(0.25), count: count), testCase, threads: 2)
  }

  private func expectFormula<T: FourBitScalar>(
    _ values: [T], _ testCase: Case, threads: Int = 1, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let settings = try QuantizationSettings(
      type: .nf4, blockSize: testCase.blockSize, doubleQuantization: testCase.doubleQuantization)
    let tensor = try QuantizedTensor(quantizing: values, shape: testCase.shape, settings: settings, threads: threads)
    let engine = tensor.bufferBytes
    let formula = FourBitWeightBuffers(
      elementCount: Int64(values.count), blockSize: Int64(testCase.blockSize),
      doubleQuantization: testCase.doubleQuantization)
    #expect(engine.packed == formula.packed.bytes, sourceLocation: sourceLocation)
    #expect(engine.absmax == formula.absmax.bytes, sourceLocation: sourceLocation)
    #expect(engine.nestedAbsmax == formula.nestedAbsmax.bytes, sourceLocation: sourceLocation)
    #expect(engine.nestedCode == formula.nestedCode.bytes, sourceLocation: sourceLocation)
    #expect(engine.offset == formula.offset.bytes, sourceLocation: sourceLocation)
    #expect(engine.code == formula.code.bytes, sourceLocation: sourceLocation)
    #expect(engine.quantState == formula.quantState.bytes, sourceLocation: sourceLocation)
    #expect(engine.total == formula.total.bytes, sourceLocation: sourceLocation)
    // And the engine's counts are its buffers' real sizes.
    #expect(Int64(tensor.packed.count) == engine.packed, sourceLocation: sourceLocation)
  }
}

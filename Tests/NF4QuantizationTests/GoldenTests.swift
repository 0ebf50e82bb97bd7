import Foundation
import NF4Quantization
import Safetensors
import Testing

/// The engine against bitsandbytes 0.50.2's own output, bit for bit (DESIGN.md section 5).
@Suite struct GoldenTests {
  @Test(arguments: GoldenCase.fixtureFiles)
  func fixtureCaseMatchesBitsandbytes(file: URL) throws {
    try checkCase(GoldenCase.load(file))
  }

  /// DESIGN.md: exact-nearest disagrees with bitsandbytes' lookup table at 9 of 5,200 codes.
  @Test func nestedCodeDisagreementsAreTheNineDocumented() throws {
    var disagreements = 0
    var codes = 0
    for file in GoldenCase.fixtureFiles {
      let golden = try GoldenCase.load(file)
      guard golden.doubleQuant else { continue }
      disagreements += try nestedCodeDisagreements(golden).count
      codes += golden.absmaxUint8!.count
    }
    #expect(disagreements == 9)
    #expect(codes == 5_200)
  }

  @Test(arguments: GoldenCase.fixtureFiles)
  func codebooksMatchBitsandbytes(file: URL) throws {
    let golden = try GoldenCase.load(file)
    let expected = GoldenCase.array(golden.code, of: UInt32.self)
    #expect(GoldenCase.bits(golden.type.codebook) == expected)
  }

  @Test func dynamicMapMatchesBitsandbytes() throws {
    let golden = try GoldenCase.load(GoldenCase.fixtureFiles.first { $0.lastPathComponent.hasPrefix("08") }!)
    let expected = GoldenCase.array(golden.nestedCodeFloat32!, of: UInt32.self)
    #expect(GoldenCase.bits(DynamicMap.values) == expected)
  }

  // MARK: - One case

  private func checkCase(_ golden: GoldenCase, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let fast = try quantize(golden, reference: false, threads: 1)
    let reference = try quantize(golden, reference: true, threads: 1)
    let threaded = try quantize(golden, reference: false, threads: 3)
    let expectedPacked = [UInt8](golden.packed)
    #expect(fast.packed == expectedPacked, "packed codes", sourceLocation: sourceLocation)
    #expect(reference == fast, "reference path", sourceLocation: sourceLocation)
    #expect(threaded == fast, "three threads", sourceLocation: sourceLocation)

    switch fast.scales {
    case .float32(let absmax):
      let expected = GoldenCase.array(golden.absmaxFloat32!, of: UInt32.self)
      #expect(GoldenCase.bits(absmax) == expected, "absmax", sourceLocation: sourceLocation)
    case .doubleQuantized(let state):
      #expect(state.offset.bitPattern == golden.offsetFloat32!.bitPattern, "offset", sourceLocation: sourceLocation)
      let expectedNested = GoldenCase.array(golden.nestedAbsmaxFloat32!, of: UInt32.self)
      #expect(GoldenCase.bits(state.nestedAbsmax) == expectedNested, "nested absmax", sourceLocation: sourceLocation)
      #expect(golden.nestedBlocksize == DoubleQuantizedAbsmax.nestedBlockSize, sourceLocation: sourceLocation)
      _ = try nestedCodeDisagreements(golden, sourceLocation: sourceLocation)
    }

    // Dequantizing bitsandbytes' own stored state gives its output bit for bit.
    let stored = try storedTensor(golden)
    let expectedOutput = GoldenCase.array(golden.dequantizedFloat32, of: UInt32.self)
    #expect(
      GoldenCase.bits(try dequantize(stored, as: golden.inputDtype, reference: false)) == expectedOutput,
      "dequantized (fast)", sourceLocation: sourceLocation)
    #expect(
      GoldenCase.bits(try dequantize(stored, as: golden.inputDtype, reference: true)) == expectedOutput,
      "dequantized (reference)", sourceLocation: sourceLocation)
  }

  /// Positions where our nested code differs from bitsandbytes'; each must be one code away,
  /// with `y * (1 / a2)` within 2/65536 of the midpoint between the two codes.
  private func nestedCodeDisagreements(
    _ golden: GoldenCase, sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> [Int] {
    let ours = try quantize(golden, reference: false, threads: 1)
    guard case .doubleQuantized(let state) = ours.scales else { return [] }
    let plainSettings = try QuantizationSettings(
      type: golden.type, blockSize: golden.blocksize, doubleQuantization: false)
    let plain = try quantize(golden, settings: plainSettings)
    guard case .float32(let absmax) = plain.scales else { return [] }
    let theirs = [UInt8](golden.absmaxUint8!)
    var positions: [Int] = []
    for i in theirs.indices where theirs[i] != state.codes[i] {
      positions.append(i)
      let (low, high) = (min(theirs[i], state.codes[i]), max(theirs[i], state.codes[i]))
      let midpoint = DynamicMap.midpoints[Int(low)]
      let z = (absmax[i] - state.offset) * (1 / state.nestedAbsmax[i / 256])
      let distance = (z - midpoint).magnitude
      #expect(high - low == 1, "nested code \(i): \(state.codes[i]) vs \(theirs[i])", sourceLocation: sourceLocation)
      #expect(distance < 2.0 / 65536, "nested code \(i): \(distance) from a midpoint", sourceLocation: sourceLocation)
    }
    return positions
  }

  // MARK: - Helpers

  private func quantize(_ golden: GoldenCase, reference: Bool, threads: Int) throws -> QuantizedTensor {
    try quantize(golden, settings: golden.settings, reference: reference, threads: threads)
  }

  private func quantize(
    _ golden: GoldenCase, settings: QuantizationSettings, reference: Bool = false, threads: Int = 1
  ) throws -> QuantizedTensor {
    func run<T: FourBitScalar>(_ values: [T]) throws -> QuantizedTensor {
      reference
        ? try QuantizedTensor.reference(quantizing: values, shape: [golden.count], settings: settings)
        : try QuantizedTensor(quantizing: values, shape: [golden.count], settings: settings, threads: threads)
    }
    switch golden.inputDtype {
    case "float32": return try run(GoldenCase.array(golden.input, of: Float.self))
    case "float16": return try run(GoldenCase.array(golden.input, of: Float16.self))
    default: return try run(GoldenCase.array(golden.input, of: UInt16.self).map(BFloat16.init(bitPattern:)))
    }
  }

  /// bitsandbytes' stored state as a tensor.
  private func storedTensor(_ golden: GoldenCase) throws -> QuantizedTensor {
    let scales: BlockScales =
      if golden.doubleQuant {
        .doubleQuantized(
          try DoubleQuantizedAbsmax(
            codes: [UInt8](golden.absmaxUint8!),
            nestedAbsmax: GoldenCase.array(golden.nestedAbsmaxFloat32!, of: Float.self),
            offset: golden.offsetFloat32!))
      } else {
        .float32(GoldenCase.array(golden.absmaxFloat32!, of: Float.self))
      }
    return try QuantizedTensor(
      type: golden.type, blockSize: golden.blocksize, shape: [golden.count],
      packed: [UInt8](golden.packed), scales: scales)
  }

  /// Dequantizes to `dtype` and widens to float32 for comparison.
  private func dequantize(_ tensor: QuantizedTensor, as dtype: String, reference: Bool) throws -> [Float] {
    func run<T: FourBitScalar>(_: T.Type) -> [T] {
      reference ? tensor.referenceDequantized(as: T.self) : tensor.dequantized(as: T.self, threads: 2)
    }
    switch dtype {
    case "float32": return run(Float.self)
    case "float16": return run(Float16.self).map(Float.init)
    default: return run(BFloat16.self).map(\.floatValue)
    }
  }
}

/// `CheckpointQuantizer` on a checkpoint holding a golden input as a [1, n] weight stores
/// bitsandbytes' bytes: packed codes, and absmax (float32) or the offset and nested scales.
@Suite struct CheckpointGoldenTests {
  @Test(arguments: GoldenCase.fixtureFiles)
  func checkpointBuffersAreBitsandbytesBuffers(file: URL) throws {
    let golden = try GoldenCase.load(file)
    let dtype: SafetensorsDType = ["float32": .f32, "float16": .f16, "bfloat16": .bf16][golden.inputDtype]!
    let (input, output) = (CheckpointTests.temporaryURL(), CheckpointTests.temporaryURL())
    defer { [input, output].forEach { try? FileManager.default.removeItem(at: $0) } }
    let name = "model.layers.0.mlp.down_proj.weight"
    let writer = try SafetensorsWriter(
      url: input, tensors: [.init(name: name, dtype: dtype, shape: [1, Int64(golden.count)])])
    try writer.write(name, bytes: golden.input)
    try writer.finish()

    try CheckpointQuantizer(settings: golden.settings, threads: 2).quantize(input: input, output: output)
    let result = try SafetensorsFile(url: output)
    #expect([UInt8](try result.data(named: name)) == [UInt8](golden.packed))
    if golden.doubleQuant {
      #expect(try result.data(named: "\(name).nested_absmax") == golden.nestedAbsmaxFloat32!)
      let (tensor, _) = try BnbCheckpointLayout.read(weightName: name, from: result)
      guard case .doubleQuantized(let state) = tensor.scales else {
        Issue.record("expected DQ")
        return
      }
      #expect(state.offset.bitPattern == golden.offsetFloat32!.bitPattern)
    } else {
      #expect(try result.data(named: "\(name).absmax") == golden.absmaxFloat32!)
    }
  }
}

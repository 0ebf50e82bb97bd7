import NF4Quantization
import Testing

/// Bad settings and shapes throw errors that name the value; nothing traps.
@Suite struct ValidationTests {
  @Test(arguments: [0, 16, 48, 100, 8192, -64])
  func blockSizesBitsandbytesRejectsThrow(blockSize: Int) {
    #expect(throws: QuantizationError.invalidBlockSize(blockSize)) {
      try QuantizationSettings(blockSize: blockSize)
    }
  }

  @Test func errorMessageNamesTheBlockSize() {
    #expect(QuantizationError.invalidBlockSize(100).description.contains("'100'"))
  }

  @Test func shapeMustMatchTheValues() throws {
    let settings = try QuantizationSettings()
    #expect(throws: QuantizationError.countMismatch(shape: [2, 3], expected: 6, actual: 5)) {
      try QuantizedTensor(quantizing: [Float](repeating: 1, count: 5), shape: [2, 3], settings: settings)
    }
  }

  @Test func negativeAndOverflowingShapesThrow() throws {
    let settings = try QuantizationSettings()
    #expect(throws: QuantizationError.negativeDimension(shape: [4, -1])) {
      try QuantizedTensor(quantizing: [Float](), shape: [4, -1], settings: settings)
    }
    let huge = [Int.max / 2, 3]
    #expect(throws: QuantizationError.elementCountOverflow(shape: huge)) {
      try QuantizedTensor(quantizing: [Float](), shape: huge, settings: settings)
    }
  }

  @Test func emptyTensorThrows() throws {
    let settings = try QuantizationSettings()
    #expect(throws: QuantizationError.emptyTensor(shape: [0, 8])) {
      try QuantizedTensor(quantizing: [Float](), shape: [0, 8], settings: settings)
    }
  }

  @Test func storedBuffersOfTheWrongSizeThrow() {
    // 100 elements: 50 packed bytes, 2 blocks of 64.
    #expect(throws: QuantizationError.bufferCountMismatch(buffer: "weight", expected: 50, actual: 49)) {
      try QuantizedTensor(
        type: .nf4, blockSize: 64, shape: [100], packed: [UInt8](repeating: 0, count: 49), scales: .float32([1, 1]))
    }
    #expect(throws: QuantizationError.bufferCountMismatch(buffer: "absmax", expected: 2, actual: 3)) {
      try QuantizedTensor(
        type: .nf4, blockSize: 64, shape: [100], packed: [UInt8](repeating: 0, count: 50), scales: .float32([1, 1, 1]))
    }
    #expect(throws: QuantizationError.bufferCountMismatch(buffer: "nested_absmax", expected: 1, actual: 2)) {
      try DoubleQuantizedAbsmax(codes: [1, 2], nestedAbsmax: [1, 1], offset: 0)
    }
  }
}

/// The engine's public entry points throw on caller values instead of trapping.
@Suite struct EngineEntryPointTests {
  @Test func syntheticWeightsRefuseCountsThatCannotBeMade() throws {
    #expect(throws: QuantizationError.negativeDimension(shape: [-1])) { try SyntheticWeights.normal(count: -1) }
    #expect(throws: QuantizationError.elementCountOverflow(shape: [Int.max])) {
      try SyntheticWeights.normal(count: Int.max)
    }
    #expect(throws: QuantizationError.elementCountOverflow(shape: [(1 << 28) + 1])) {
      try SyntheticWeights.normal(count: (1 << 28) + 1)
    }
    #expect(try SyntheticWeights.normal(count: 0).isEmpty)
    #expect(try SyntheticWeights.normal(count: 3, seed: 1).count == 3)
  }

  @Test func dequantizeIntoAWronglySizedBufferThrows() throws {
    let tensor = try QuantizedTensor(
      quantizing: [Float](repeating: 0.5, count: 128), shape: [128], settings: QuantizationSettings())
    for size in [0, 127, 129] {
      var buffer = [Float](repeating: 0, count: size)
      #expect(throws: QuantizationError.bufferCountMismatch(buffer: "out", expected: 128, actual: size)) {
        try buffer.withUnsafeMutableBufferPointer { try tensor.dequantize(into: $0) }
      }
    }
    var exact = [Float](repeating: 0, count: 128)
    try exact.withUnsafeMutableBufferPointer { try tensor.dequantize(into: $0) }
    #expect(exact == tensor.dequantized())
  }
}

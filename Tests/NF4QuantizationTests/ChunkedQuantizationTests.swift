import Foundation
import Safetensors
import Testing

@testable import NF4Quantization

/// Weights quantized and measured in chunks (tiny chunks here, so a small weight crosses many)
/// give what the whole-tensor path gives: the same bytes in the checkpoint, the same error
/// statistics, the same refusals with the same element index.
@Suite struct ChunkedQuantizationTests {
  /// 4 KiB chunks: 32 blocks of 64 bf16 values, so the weight below spans 20 chunks and ends in a
  /// partial block (39 x 999 = 38,961 elements, odd).
  static let chunkBytes = 4096
  static let shape: [Int64] = [39, 999]

  static func temporary(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("qb-chunks-\(UUID().uuidString)-\(name)")
  }

  /// A file with a bf16 weight of `shape` (seeded normal values, `edit` applied), a norm copied
  /// unchanged, and a second weight.
  static func file(_ edit: (inout [Float]) -> Void = { _ in }) throws -> (URL, [BFloat16]) {
    var values = try SyntheticWeights.normal(count: Int(shape[0] * shape[1]), seed: 3)
    edit(&values)
    let weight = values.map { BFloat16($0) }
    let second = try SyntheticWeights.normal(count: 64 * 70, seed: 4).map { BFloat16($0) }
    let url = temporary("in.safetensors")
    let specs = [
      SafetensorsTensorSpec(name: "m.norm.weight", dtype: .bf16, shape: [64]),
      SafetensorsTensorSpec(name: "m.up_proj.weight", dtype: .bf16, shape: shape),
      SafetensorsTensorSpec(name: "m.down_proj.weight", dtype: .bf16, shape: [70, 64]),
    ]
    let writer = try SafetensorsWriter(url: url, tensors: specs)
    try writer.write(
      "m.norm.weight", bytes: [BFloat16](repeating: BFloat16(1), count: 64).withUnsafeBytes { Array($0) })
    try writer.write("m.up_proj.weight", bytes: weight.withUnsafeBytes { Array($0) })
    try writer.write("m.down_proj.weight", bytes: second.withUnsafeBytes { Array($0) })
    try writer.finish()
    return (url, weight)
  }

  @Test(arguments: [false, true])
  func aCheckpointQuantizedInChunksHoldsTheWholeTensorsBytes(doubleQuantization: Bool) throws {
    let (input, weight) = try Self.file()
    let output = Self.temporary("out.safetensors")
    defer { for url in [input, output] { try? FileManager.default.removeItem(at: url) } }
    let settings = try QuantizationSettings(type: .nf4, blockSize: 64, doubleQuantization: doubleQuantization)
    var quantizer = CheckpointQuantizer(settings: settings, threads: 2)
    quantizer.chunkBytes = Self.chunkBytes
    try quantizer.quantize(input: input, output: output)
    let whole = try QuantizedTensor(quantizing: weight, shape: Self.shape.map { Int($0) }, settings: settings)
    let written = try SafetensorsFile(url: output)
    for entry in BnbCheckpointLayout.entries(weightName: "m.up_proj.weight", tensor: whole, dtype: "bfloat16") {
      #expect([UInt8](try written.data(named: entry.spec.name)) == entry.bytes, "\(entry.spec.name)")
    }
    #expect(
      [UInt8](try written.data(named: "m.norm.weight"))
        == [BFloat16](repeating: BFloat16(1), count: 64).withUnsafeBytes { Array($0) })
  }

  @Test(arguments: [false, true])
  func errorStatisticsInChunksEqualTheWholeTensors(doubleQuantization: Bool) throws {
    let (input, weight) = try Self.file()
    defer { try? FileManager.default.removeItem(at: input) }
    let file = try SafetensorsFile(url: input)
    let chunked = try QuantizationErrorStatistics.compareFormats(
      file: file, tensor: file.tensor(named: "m.up_proj.weight"), blockSize: 64, doubleQuantization: doubleQuantization,
      threads: 2, chunkBytes: Self.chunkBytes)
    // The whole tensor at once: quantize, dequantize, and the statistics of the two arrays.
    let values = weight.map(\.floatValue)
    var expected: [(String, QuantizationErrorStatistics)] = []
    for type in FourBitType.allCases {
      let settings = try QuantizationSettings(type: type, blockSize: 64, doubleQuantization: doubleQuantization)
      let tensor = try QuantizedTensor(quantizing: values, shape: [values.count], settings: settings)
      expected.append(
        (type.rawValue, try QuantizationErrorStatistics(original: values, reconstructed: tensor.dequantized())))
    }
    let int4 = try QuantizationErrorStatistics.roundToNearestInt4(values, blockSize: 64)
    expected.append(("int4", try QuantizationErrorStatistics(original: values, reconstructed: int4)))
    #expect(chunked.rows.map(\.format) == expected.map(\.0))
    #expect(chunked.rows.map(\.statistics) == expected.map(\.1))
  }

  @Test func aNaNInALaterChunkIsRefusedWithItsIndexByBoth() throws {
    let index = 30 * 999 + 17
    let (input, _) = try Self.file { $0[index] = .nan }
    let output = Self.temporary("out.safetensors")
    defer { for url in [input, output] { try? FileManager.default.removeItem(at: url) } }
    var quantizer = CheckpointQuantizer(settings: try QuantizationSettings(), threads: 2)
    quantizer.chunkBytes = Self.chunkBytes
    // NaN is not equal to itself, so the errors are compared by their text.
    let expected = QuantizationError.nonFiniteValue(tensor: "m.up_proj.weight", index: index, value: .nan).description
    let quantizing = #expect(throws: QuantizationError.self) { try quantizer.quantize(input: input, output: output) }
    #expect(quantizing?.description == expected)
    #expect(!FileManager.default.fileExists(atPath: output.path))
    let file = try SafetensorsFile(url: input)
    let measuring = #expect(throws: QuantizationError.self) {
      try QuantizationErrorStatistics.compareFormats(
        file: file, tensor: file.tensor(named: "m.up_proj.weight"), blockSize: 64, doubleQuantization: true, threads: 1,
        chunkBytes: Self.chunkBytes)
    }
    #expect(measuring?.description == expected)
  }

  @Test func finiteWeightsNearTheFloat32MaximumAreRefusedLikeQuantizeOrMeasuredFinite() throws {
    // 3e38 in every block: the float32 mean of the absmax values overflows.
    let values = (0..<4096).map { (i: Int) -> Float in
      let magnitude: Float = i % 2 == 0 ? 3e38 : -1.5e38
      return magnitude / 7 * Float(1 + i % 7)
    }
    #expect(throws: QuantizationError.absmaxMeanOverflows(tensor: "values")) {
      try QuantizationErrorStatistics.compareFormats(values, blockSize: 64, doubleQuantization: true)
    }
    let rows = try QuantizationErrorStatistics.compareFormats(values, blockSize: 64, doubleQuantization: false).rows
    for (format, statistics) in rows {
      #expect(statistics.meanSquaredError.isFinite && statistics.maxAbsoluteError.isFinite, "\(format)")
      #expect(statistics.signalToNoiseDecibels.isFinite, "\(format)")
    }
  }

  @Test func int4StaysFiniteNearTheFloat32Maximum() throws {
    // absmax 3.4e38: 7 * absmax overflows float32; q * absmax / 7 in float64 is 3.4e38 * 2/7.
    let result = try QuantizationErrorStatistics.roundToNearestInt4([3.4e38, 1e38], blockSize: 64)
    #expect(result[0] == 3.4e38)
    #expect(result[1] == Float(2 * Double(Float(3.4e38)) / 7))
  }

  @Test func anAllocationThatCannotBeMadeIsAnError() {
    #expect(throws: QuantizationError.cannotAllocate(bytes: Int64(Int.max), for: "reading")) {
      try ChunkBuffer(byteCount: Int.max, for: "reading")
    }
  }
}

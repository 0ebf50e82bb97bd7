import Foundation
import Safetensors
import Testing

@testable import NF4Quantization

/// `quantize-check`'s chunked error statistics (issue 19: memory stays at a few chunks) against
/// figures computed here over the whole tensor at once, independently of the chunked code: NF4
/// and FP4 by the one-element-at-a-time reference kernel (`QuantizedTensor.reference`,
/// `referenceDequantized`), int4 and the sums by the formulas written out below.
@Suite struct ChunkedStatisticsReferenceTests {
  /// The sums of the statistics over the whole tensor, in element order, in Double.
  struct WholeTensorSums {
    var signal = 0.0
    var noise = 0.0
    var largest = 0.0

    init(_ original: [Float], _ reconstructed: [Float]) {
      for i in original.indices {
        let error = Double(original[i]) - Double(reconstructed[i])
        signal += Double(original[i]) * Double(original[i])
        noise += error * error
        largest = max(largest, abs(error))
      }
    }
  }

  /// Symmetric int4 written out: per block `absmax = max |x|`, `q = round(x * 7 / absmax)` (ties
  /// to even) in -7...7, `x' = q * absmax / 7`; an all-zero block stays zero. The test weights
  /// are far below the float32 maximum, so float32 arithmetic is the rule.
  static func int4(_ values: [Float], blockSize: Int) -> [Float] {
    var result: [Float] = []
    for start in stride(from: 0, to: values.count, by: blockSize) {
      let block = values[start..<min(start + blockSize, values.count)]
      let absmax = block.map(\.magnitude).max()!
      for x in block {
        guard absmax > 0 else {
          result.append(0)
          continue
        }
        let q = min(7, max(-7, (x * 7 / absmax).rounded(.toNearestOrEven)))
        result.append(q * absmax / 7)
      }
    }
    return result
  }

  /// Blocks of 64 and 4,096: with 4 KiB chunks the 39 x 999 bf16 weight (38,961 elements, odd)
  /// spans 20 chunks of 32 blocks (2,048 elements; the last holds 49), or 10 chunks of one block
  /// (the last holds 2,097), and ends in a partial block either way.
  @Test(arguments: [64, 4096], [false, true])
  func chunkedStatisticsEqualTheReferenceOverTheWholeTensor(blockSize: Int, doubleQuantization: Bool) throws {
    let (input, weight) = try ChunkedQuantizationTests.file()
    defer { try? FileManager.default.removeItem(at: input) }
    let file = try SafetensorsFile(url: input)
    let info = try file.tensor(named: "m.up_proj.weight")
    let chunks = WeightChunks(info, blockSize: blockSize, chunkBytes: ChunkedQuantizationTests.chunkBytes)
    #expect(chunks.chunkCount == (blockSize == 64 ? 20 : 10))
    #expect(weight.count % blockSize != 0)

    let chunked = try QuantizationErrorStatistics.compareFormats(
      file: file, tensor: info, blockSize: blockSize, doubleQuantization: doubleQuantization, threads: 2,
      chunkBytes: ChunkedQuantizationTests.chunkBytes)

    let values = weight.map(\.floatValue)
    var expected: [(format: String, sums: WholeTensorSums)] = []
    for type in FourBitType.allCases {
      let settings = try QuantizationSettings(type: type, blockSize: blockSize, doubleQuantization: doubleQuantization)
      let tensor = try QuantizedTensor.reference(quantizing: weight, shape: [weight.count], settings: settings)
      expected.append((type.rawValue, WholeTensorSums(values, tensor.referenceDequantized())))
    }
    expected.append(("int4", WholeTensorSums(values, Self.int4(values, blockSize: blockSize))))

    #expect(chunked.rows.map(\.format) == expected.map(\.format))
    for (row, reference) in zip(chunked.rows, expected) {
      let statistics = row.statistics
      #expect(statistics.elementCount == 39 * 999, "\(row.format)")
      #expect(statistics.sumOfSquares == reference.sums.signal, "\(row.format)")
      #expect(statistics.sumOfSquaredErrors == reference.sums.noise, "\(row.format)")
      #expect(statistics.maxAbsoluteError == reference.sums.largest, "\(row.format)")
      #expect(statistics.meanSquaredError == reference.sums.noise / 38961, "\(row.format)")
      #expect(
        statistics.signalToNoiseDecibels == 10 * log10(reference.sums.signal / reference.sums.noise), "\(row.format)")
      #expect(reference.sums.noise > 0, "\(row.format): a 4-bit format loses something")
    }
  }
}

import Foundation
import NF4Quantization

/// NF4 quantize and dequantize throughput against a memcpy of the same bytes, on 1, 2 and all
/// cores. GB = 10^9 bytes of float32 input (quantize) or float32 output (dequantize, memcpy).
///
/// Settings: NF4, blocks of 64, without double quantization (the kernels; double quantization
/// adds a serial pass over the absmax values, reported separately as `quantize_dq_gbps_1_thread`).
struct NF4Benchmark: Benchmark {
  let name = "nf4"

  func run(_ options: BenchmarkOptions) -> BenchmarkResult {
    let count = options.quick ? 1 << 20 : 1 << 24
    let runs = options.quick ? 3 : 9
    let bytes = Double(count * MemoryLayout<Float>.size)
    let allCores = ProcessInfo.processInfo.activeProcessorCount
    let threadCounts = Array(Set([1, 2, allCores])).sorted()
    let weights = try! SyntheticWeights.normal(count: count, standardDeviation: 0.02, seed: 42)
    let settings = try! QuantizationSettings(type: .nf4, blockSize: 64, doubleQuantization: false)
    let shape = [count]

    var result = BenchmarkResult(title: "NF4 engine (\(count) float32 elements, blocksize 64, \(runs) runs, medians)")
    result.notes = ["cores: \(allCores); GB = 10^9 bytes of float32"]
    func record(_ name: String, seconds: Double) {
      result.figures.append((name + "_gbps", bytes / seconds / 1e9))
    }

    let quantized = try! QuantizedTensor(quantizing: weights, shape: shape, settings: settings)
    var source = weights
    var target = [Float](repeating: 0, count: count)
    for threads in threadCounts {
      let label = threads == allCores ? ["\(threads)_thread", "all_threads"] : ["\(threads)_thread"]
      let quantize = Stopwatch.median(runs: runs) {
        _ = try! QuantizedTensor(quantizing: weights, shape: shape, settings: settings, threads: threads)
      }
      let dequantize = Stopwatch.median(runs: runs) {
        target.withUnsafeMutableBufferPointer { try! quantized.dequantize(into: $0, threads: threads) }
      }
      let copy = Stopwatch.median(runs: runs) { Self.copy(&source, into: &target, threads: threads) }
      for suffix in Set(label).sorted() {
        record("quantize_\(suffix)", seconds: quantize)
        record("dequantize_\(suffix)", seconds: dequantize)
        record("memcpy_\(suffix)", seconds: copy)
      }
    }
    let dqSettings = try! QuantizationSettings(type: .nf4, blockSize: 64, doubleQuantization: true)
    record(
      "quantize_dq_1_thread",
      seconds: Stopwatch.median(runs: runs) {
        _ = try! QuantizedTensor(quantizing: weights, shape: shape, settings: dqSettings)
      })
    let figure = { (name: String) in result.figures.first { $0.name == name }!.value }
    result.figures.append(("quantize_elements_per_second_1_thread", figure("quantize_1_thread_gbps") * 1e9 / 4))
    result.figures.append(("dequantize_elements_per_second_1_thread", figure("dequantize_1_thread_gbps") * 1e9 / 4))
    result.figures = result.figures.map { (Self.jsonName($0.name), $0.value) }
    return result
  }

  /// `quantize_1_thread_gbps` -> `quantize_gbps_1_thread` (the keys the issue names).
  private static func jsonName(_ name: String) -> String {
    guard name.hasSuffix("_gbps") else { return name }
    let stem = name.dropLast("_gbps".count)
    for suffix in ["_1_thread", "_2_thread", "_all_threads"] where stem.hasSuffix(suffix) {
      let kind = stem.dropLast(suffix.count)
      return "\(kind)_gbps\(suffix == "_2_thread" ? "_2_threads" : suffix)"
    }
    return name
  }

  /// memcpy of the whole buffer, split into contiguous chunks across `threads`.
  private static func copy(_ source: inout [Float], into target: inout [Float], threads: Int) {
    source.withUnsafeBytes { source in
      target.withUnsafeMutableBytes { target in
        let (from, to, total) = (
          UInt(bitPattern: source.baseAddress!), UInt(bitPattern: target.baseAddress!), source.count
        )
        DispatchQueue.concurrentPerform(iterations: threads) { chunk in
          let start = total * chunk / threads
          let end = total * (chunk + 1) / threads
          memcpy(
            UnsafeMutableRawPointer(bitPattern: to + UInt(start))!, UnsafeRawPointer(bitPattern: from + UInt(start))!,
            end - start)
        }
      }
    }
  }
}

import Foundation
import NF4Quantization
import Safetensors

/// `quantize-check` on one large weight: a seeded 1 GiB bf16 tensor (32,768 x 16,384, N(0,
/// 0.02^2)) in a single-tensor file, measured by the `qlora-budget` binary beside this one.
///
/// Figures: the weight's bytes, the wall time of `quantize-check FILE --json` (one run after a
/// warm-up), and its peak RSS (`VmHWM`, as in ``ScaleBenchmark``) against the weight's bytes.
/// `--quick`: 4,096 x 16,384 (128 MiB).
struct QuantizeCheckBenchmark: Benchmark {
  let name = "check"

  func run(_ options: BenchmarkOptions) -> BenchmarkResult {
    let shape: [Int64] = [options.quick ? 4096 : 32768, 16384]
    var result = BenchmarkResult(title: "quantize-check of one bf16 weight \(shape[0]) x \(shape[1])")
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
      "qlora-budget")
    let file = FileManager.default.temporaryDirectory.appendingPathComponent(
      "qlora-budget-check-\(getpid()).safetensors")
    defer { try? FileManager.default.removeItem(at: file) }
    do {
      let spec = SafetensorsTensorSpec(name: "model.layers.0.mlp.up_proj.weight", dtype: .bf16, shape: shape)
      var generator = SplitMix64(seed: 42)
      let values = SyntheticModelFolder.values(
        count: Int(shape[0] * shape[1]), table: SyntheticModelFolder.normalTable(seed: 42), generator: &generator)
      let writer = try SafetensorsWriter(url: file, tensors: [spec])
      try values.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in try writer.write(spec.name, bytes: raw) }
      try writer.finish()
      let bytes = Double(spec.byteCount ?? 0)
      var peak = 0.0
      var failed = false
      let seconds = Stopwatch.median(runs: 1) {
        let run = ScaleBenchmark.spawnMeasuringPeak(binary.path, ["quantize-check", file.path, "--json"])
        failed = failed || !run.succeeded
        peak = max(peak, run.peakBytes)
      }
      result.notes = [
        "cores: \(ProcessInfo.processInfo.activeProcessorCount)"
          + (failed ? "; quantize-check FAILED: figures are not valid" : "")
      ]
      result.figures = [
        ("check_weight_gib", bytes / Double(1 << 30)),
        ("check_seconds", seconds),
        ("check_peak_rss_mb", peak / 1e6),
        ("check_peak_rss_to_weight_bytes_ratio", peak / bytes),
      ]
    } catch {
      result.notes = ["could not write the weight: \(error)"]
    }
    return result
  }
}

import FileSafety
import Foundation
import NF4Quantization
import Safetensors

#if canImport(Glibc)
  import Glibc
#endif

/// `quantize` at the scale users bring: a synthetic sharded bf16 model folder (seeded; Llama-3-8B
/// layer shapes, hidden 4096, MLP 14336, GQA 8 of 32 heads), quantized end to end by the
/// `qlora-budget` binary beside this one, against the time of reading the same bytes.
///
/// Figures: input GB (10^9 bytes of shards), the median wall time of `quantize` over the runs,
/// its input GB/s, the median time of reading every shard byte (16 MiB `pread`s, from the page
/// cache as the quantizer reads them: the folder is smaller than RAM), their ratio, and the
/// quantizer's peak RSS (its `VmHWM` in `/proc/<pid>/status`, sampled every 10 ms until it
/// exits; `getrusage(RUSAGE_CHILDREN)` would report this process's own high-water mark, which
/// Linux carries into a child at `exec`) against the largest tensor it quantizes and the largest
/// of all, and the time to write as many bytes as the quantized folder holds into new files with
/// plain buffered writes and `fsync` (``writeCopies(of:into:)``: the disk's share). Full run:
/// 10 layers, about 4.9 GB; `--quick`: 1 layer, about 1 GB.
struct ScaleBenchmark: Benchmark {
  let name = "scale"

  func run(_ options: BenchmarkOptions) -> BenchmarkResult {
    let layers = options.quick ? 1 : 10
    let runs = options.quick ? 1 : 3
    var result = BenchmarkResult(title: "quantize on a sharded bf16 folder (\(layers) layers, \(runs) run(s), medians)")
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
      "qlora-budget")
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("qlora-budget-scale-\(getpid())")
    defer { try? FileManager.default.removeItem(at: root) }
    let input = root.appendingPathComponent("model")
    let output = root.appendingPathComponent("model-nf4")
    do {
      try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
      let (bytes, largest, largestQuantized) = try SyntheticModelFolder.write(to: input, layers: layers, seed: 42)
      let shards = try FileManager.default.contentsOfDirectory(atPath: input.path).filter {
        $0.hasSuffix(".safetensors")
      }
      .map { input.appendingPathComponent($0).path }
      result.notes = [
        "cores: \(ProcessInfo.processInfo.activeProcessorCount); \(shards.count) shards; GB = 10^9 bytes of bf16 input",
        "largest tensor \(largest) bytes (embedding and lm_head, copied), largest quantized \(largestQuantized) bytes (MLP 14336 x 4096)",
      ]
      let read = Stopwatch.median(runs: 3) { Self.readAll(shards) }
      var failed = false
      var peak = 0.0
      let quantize = Stopwatch.median(runs: runs) {
        let run = Self.spawnMeasuringPeak(binary.path, ["quantize", input.path, output.path, "--force", "--quiet"])
        failed = failed || !run.succeeded
        peak = max(peak, run.peakBytes)
      }
      if failed { result.notes.append("quantize FAILED: figures are not valid") }
      let outputs = try FileManager.default.contentsOfDirectory(atPath: output.path).map {
        output.appendingPathComponent($0).path
      }
      let write = Stopwatch.median(runs: 3) {
        Self.writeCopies(of: outputs, into: root.appendingPathComponent("write-test"))
      }
      result.figures = [
        ("input_gb", Double(bytes) / 1e9),
        ("quantize_seconds", quantize),
        ("quantize_input_gbps", Double(bytes) / quantize / 1e9),
        ("read_gbps", Double(bytes) / read / 1e9),
        ("quantize_to_read_speed_ratio", read / quantize),
        ("write_output_seconds", write),
        ("quantize_to_write_time_ratio", write / quantize),
        ("peak_rss_mb", peak / 1e6),
        ("peak_rss_to_largest_tensor_ratio", peak / Double(largest)),
        ("peak_rss_to_largest_quantized_tensor_ratio", peak / Double(largestQuantized)),
      ]
    } catch {
      result.notes = ["could not build the folder: \(error)"]
    }
    return result
  }

  /// Runs a process to completion; returns whether it exited with 0 and its peak RSS in bytes
  /// (the last `VmHWM` read from `/proc/<pid>/status` before it exited).
  static func spawnMeasuringPeak(_ path: String, _ arguments: [String]) -> (succeeded: Bool, peakBytes: Double) {
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    var pid: pid_t = 0
    guard posix_spawn(&pid, path, &actions, nil, argv, environ) == 0 else { return (false, 0) }
    var peak = 0.0
    var status: Int32 = 0
    while waitpid(pid, &status, WNOHANG) == 0 {
      if let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
      {
        peak = max(peak, kilobytes * 1024)
      }
      usleep(10_000)
    }
    return (status == 0, peak)
  }

  /// Writes as many bytes as every file of `paths` (the quantized folder) holds into new files
  /// in `folder`, 16 MiB at a time from one buffer, each flushed with `fsync` as the
  /// quantizer's atomic writer does: the time the output alone takes to reach the disk through
  /// plain buffered writes. (Not read from the output files: `quantize` drops its written
  /// pages from the page cache, so reading them would time the disk's reads too.)
  static func writeCopies(of paths: [String], into folder: URL) {
    try? FileManager.default.removeItem(at: folder)
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 20, alignment: 64)
    defer { buffer.deallocate() }
    for index in 0..<buffer.count { buffer[index] = UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 13) }
    for path in paths {
      guard let size = (try? ReadableFile(path: path))?.size else { continue }
      let target = open(
        folder.appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent).path, O_WRONLY | O_CREAT | O_TRUNC,
        0o644)
      guard target >= 0 else { continue }
      var offset: Int64 = 0
      while offset < size {
        let count = Int(min(Int64(buffer.count), size - offset))
        guard Glibc.write(target, buffer.baseAddress!, count) == count else { break }
        offset += Int64(count)
      }
      fsync(target)
      close(target)
    }
  }

  /// Reads every byte of `paths` in 16 MiB pieces into one reused buffer.
  static func readAll(_ paths: [String]) {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 20, alignment: 64)
    defer { buffer.deallocate() }
    for path in paths {
      guard let file = try? ReadableFile(path: path) else { continue }
      var offset: Int64 = 0
      while let count = try? file.read(into: buffer, at: offset), count > 0 { offset += Int64(count) }
    }
  }
}

/// A seeded synthetic model folder: shards of bf16 weights, an index and a config.json.
enum SyntheticModelFolder {
  /// Writes the folder; returns the bytes of all tensors, of the largest one and of the largest
  /// one `quantize` quantizes.
  static func write(to folder: URL, layers: Int, seed: UInt64) throws -> (
    bytes: Int64, largest: Int64, largestQuantized: Int64
  ) {
    let (hidden, mlp, kv, vocab): (Int64, Int64, Int64, Int64) = (4096, 14336, 1024, 32768)
    var tensors: [SafetensorsTensorSpec] = [
      .init(name: "model.embed_tokens.weight", dtype: .bf16, shape: [vocab, hidden])
    ]
    for layer in 0..<layers {
      let prefix = "model.layers.\(layer)."
      tensors += [
        .init(name: prefix + "self_attn.q_proj.weight", dtype: .bf16, shape: [hidden, hidden]),
        .init(name: prefix + "self_attn.k_proj.weight", dtype: .bf16, shape: [kv, hidden]),
        .init(name: prefix + "self_attn.v_proj.weight", dtype: .bf16, shape: [kv, hidden]),
        .init(name: prefix + "self_attn.o_proj.weight", dtype: .bf16, shape: [hidden, hidden]),
        .init(name: prefix + "mlp.gate_proj.weight", dtype: .bf16, shape: [mlp, hidden]),
        .init(name: prefix + "mlp.up_proj.weight", dtype: .bf16, shape: [mlp, hidden]),
        .init(name: prefix + "mlp.down_proj.weight", dtype: .bf16, shape: [hidden, mlp]),
        .init(name: prefix + "input_layernorm.weight", dtype: .bf16, shape: [hidden]),
        .init(name: prefix + "post_attention_layernorm.weight", dtype: .bf16, shape: [hidden]),
      ]
    }
    tensors += [
      .init(name: "model.norm.weight", dtype: .bf16, shape: [hidden]),
      .init(name: "lm_head.weight", dtype: .bf16, shape: [vocab, hidden]),
    ]
    // Shards of about 1 GB, as save_pretrained cuts them (max_shard_size).
    var shards: [[SafetensorsTensorSpec]] = [[]]
    var shardBytes: Int64 = 0
    for spec in tensors {
      if shardBytes > 1_000_000_000 {
        shards.append([])
        shardBytes = 0
      }
      shards[shards.count - 1].append(spec)
      shardBytes += spec.byteCount ?? 0
    }
    let table = normalTable(seed: seed)
    var generator = SplitMix64(seed: seed)
    var weightMap: [String] = []
    for (number, shard) in shards.enumerated() {
      let name = String(format: "model-%05d-of-%05d.safetensors", number + 1, shards.count)
      let writer = try SafetensorsWriter(
        url: folder.appendingPathComponent(name), tensors: shard, metadata: ["format": "pt"])
      for spec in shard {
        let values = Self.values(count: Int(spec.byteCount ?? 0) / 2, table: table, generator: &generator)
        try values.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in try writer.write(spec.name, bytes: raw) }
        weightMap.append("\"\(spec.name)\": \"\(name)\"")
      }
      try writer.finish()
    }
    let total = tensors.reduce(Int64(0)) { $0 + ($1.byteCount ?? 0) }
    let index = "{\"metadata\": {\"total_size\": \(total)}, \"weight_map\": {\(weightMap.joined(separator: ", "))}}"
    try AtomicFileWriter.write(
      Array(index.utf8), to: folder.appendingPathComponent(CheckpointFolder.indexName).path, replacingExisting: true)
    let config = #"{"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "torch_dtype": "bfloat16"}"#
    try AtomicFileWriter.write(
      Array(config.utf8), to: folder.appendingPathComponent("config.json").path, replacingExisting: true)
    let quantized = tensors.filter { $0.shape.count == 2 && $0.name.hasPrefix("model.layers.") }
    return (total, tensors.compactMap(\.byteCount).max() ?? 0, quantized.compactMap(\.byteCount).max() ?? 0)
  }

  /// A seeded table of 2^20 N(0, 0.02^2) bf16 values for ``values(count:table:generator:)``.
  static func normalTable(seed: UInt64) -> [BFloat16] {
    // A fixed, valid count: cannot throw.
    try! SyntheticWeights.normal(count: 1 << 20, standardDeviation: 0.02, seed: seed).map { BFloat16($0) }
  }

  /// `count` N(0, 0.02^2) bf16 values: runs of 64 Ki copied from the table at seeded offsets
  /// (drawing every element with Box-Muller would take longer than quantizing).
  static func values(count: Int, table: [BFloat16], generator: inout SplitMix64) -> [BFloat16] {
    var values = [BFloat16](repeating: BFloat16(bitPattern: 0), count: count)
    var start = 0
    while start < count {
      let run = min(65_536, count - start)
      let from = Int(generator.next() % UInt64(table.count - run))
      values.withUnsafeMutableBufferPointer { target in
        table.withUnsafeBufferPointer { source in
          _ = UnsafeMutableBufferPointer(rebasing: target[start..<(start + run)]).initialize(
            from: source[from..<(from + run)])
        }
      }
      start += run
    }
    return values
  }
}

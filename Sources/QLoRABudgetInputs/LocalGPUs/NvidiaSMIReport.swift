import QLoRABudget

/// What `nvidia-smi` is asked and how its answer is read.
public enum NvidiaSMIReport {
  /// `nvidia-smi --query-gpu=index,name,memory.total,memory.used,memory.free,compute_cap
  /// --format=csv,noheader,nounits`: one line per GPU, memory in MiB.
  public static let arguments = [
    "--query-gpu=index,name,memory.total,memory.used,memory.free,compute_cap", "--format=csv,noheader,nounits",
  ]

  /// Every GPU line of the output, e.g. `0, NVIDIA GeForce RTX 4090, 24564, 3012, 21552, 8.9`.
  /// A field nvidia-smi cannot give is `[N/A]`: fatal for memory (unified-memory boards
  /// report no total), nil for the compute capability.
  public static func parse(_ output: String) throws(LocalGPUError) -> [LocalGPU] {
    var gpus: [LocalGPU] = []
    for (number, rawLine) in output.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = rawLine.trimmingWhitespace()
      guard !line.isEmpty else { continue }
      let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
      guard fields.count >= 6 else {
        throw .malformed(line: number + 1, reason: "expected 6 comma-separated fields, found \(fields.count)")
      }
      // A name holding a comma spreads over the middle fields.
      let name = fields[1..<(fields.count - 4)].joined(separator: ", ")
      guard let index = Int(fields[0]), (0...1023).contains(index) else {
        throw .malformed(line: number + 1, reason: "index '\(fields[0])' is not a GPU index")
      }
      func mebibytes(_ text: Substring, _ field: String) throws(LocalGPUError) -> ByteCount {
        guard let value = Int64(text), (0...(1 << 40)).contains(value) else {
          throw .malformed(line: number + 1, reason: "\(field) '\(text)' is not a number of MiB")
        }
        return ByteCount(value << 20)
      }
      let count = fields.count
      gpus.append(
        LocalGPU(
          index: index, name: name, total: try mebibytes(fields[count - 4], "memory.total"),
          used: try mebibytes(fields[count - 3], "memory.used"), free: try mebibytes(fields[count - 2], "memory.free"),
          computeCapability: ComputeCapability(String(fields[count - 1]))))
    }
    guard !gpus.isEmpty else { throw .noGPU }
    return gpus
  }

  /// The GPUs a CUDA program sees, in its order: `CUDA_VISIBLE_DEVICES` lists nvidia-smi
  /// indices (CUDA renumbers them from 0 in the order given); unset, every GPU. CUDA stops at
  /// the first entry that names no GPU, so an empty or `-1` list hides them all.
  public static func visible(_ gpus: [LocalGPU], cudaVisibleDevices: String?) throws(LocalGPUError) -> [LocalGPU] {
    guard let list = cudaVisibleDevices else { return gpus }
    var visible: [LocalGPU] = []
    for entry in list.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingWhitespace() }) {
      if entry.hasPrefix("GPU-") || entry.hasPrefix("MIG-") { throw .visibleDeviceByUUID(String(entry)) }
      guard let index = Int(entry), let gpu = gpus.first(where: { $0.index == index }), !visible.contains(gpu) else {
        break
      }
      visible.append(gpu)
    }
    guard !visible.isEmpty else { throw .noVisibleGPU(cudaVisibleDevices: list) }
    return visible
  }
}

extension Substring {
  func trimmingWhitespace() -> Substring {
    var text = self
    while let first = text.first, first.isWhitespace { text.removeFirst() }
    while let last = text.last, last.isWhitespace { text.removeLast() }
    return text
  }
}

/// Why the local GPUs could not be read.
public enum LocalGPUError: Error, Hashable, Sendable, CustomStringConvertible {
  case notFound
  case failed(status: Int32)
  case timedOut(seconds: Int)
  case outputTooLarge(limit: Int)
  case malformed(line: Int, reason: String)
  case noGPU
  case noVisibleGPU(cudaVisibleDevices: String)
  case visibleDeviceByUUID(String)
  case indexOutOfRange(index: Int, count: Int)

  public var description: String {
    switch self {
    case .notFound: return "nvidia-smi not found on PATH: no NVIDIA driver here to read the GPUs from"
    case .failed(let status): return "nvidia-smi failed (exit status \(status)): the NVIDIA driver did not answer"
    case .timedOut(let seconds): return "nvidia-smi did not answer within \(seconds) s"
    case .outputTooLarge(let limit): return "nvidia-smi printed more than \(limit) bytes; not a GPU list"
    case .malformed(let line, let reason): return "nvidia-smi's output, line \(line): \(reason)"
    case .noGPU: return "nvidia-smi lists no GPU"
    case .noVisibleGPU(let list): return "CUDA_VISIBLE_DEVICES='\(list)' leaves no GPU visible"
    case .visibleDeviceByUUID(let entry):
      return "CUDA_VISIBLE_DEVICES names '\(entry)' by UUID; only indices are mapped: name the GPU preset instead"
    case .indexOutOfRange(let index, let count):
      return "GPU \(index) is not visible: \(count) GPU\(count == 1 ? " is" : "s are") (0...\(count - 1))"
    }
  }
}

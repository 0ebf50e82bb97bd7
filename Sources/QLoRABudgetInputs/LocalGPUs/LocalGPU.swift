import QLoRABudget

/// A GPU of this machine as `nvidia-smi` reports it now.
public struct LocalGPU: Hashable, Sendable {
  /// nvidia-smi's index (the physical order, before `CUDA_VISIBLE_DEVICES`).
  public let index: Int
  public let name: String
  public let total: ByteCount
  /// Memory in use now: other processes, and on some drivers the driver's own reservation.
  public let used: ByteCount
  public let free: ByteCount
  public let computeCapability: ComputeCapability?

  public init(
    index: Int, name: String, total: ByteCount, used: ByteCount, free: ByteCount, computeCapability: ComputeCapability?
  ) {
    self.index = index
    self.name = name
    self.total = total
    self.used = used
    self.free = free
    self.computeCapability = computeCapability
  }

  /// The preset this device is: every word of the preset's name (but its memory size) is a
  /// word of nvidia-smi's name (`rtx-4090` in `NVIDIA GeForce RTX 4090`, `a100-80gb` in
  /// `NVIDIA A100-SXM4-80GB`), and the preset's usable capacity is what a card of this total
  /// memory gives (between 90% and 100% of it), which tells an 8 GB RTX 4060 from a 16 GB
  /// 4060 Ti and a V100 16GB from a 32GB. The most specific match wins.
  public func matchingPreset(among presets: [GPU]) -> GPU? {
    let words = Set(Self.words(name))
    let candidates = presets.filter { preset in
      guard preset.vendor == .nvidia, preset.capacity <= total, preset.capacity.bytes >= total.bytes / 10 * 9 else {
        return false
      }
      return Self.words(preset.name).filter { !Self.isMemorySize($0) }.allSatisfy(words.contains)
    }
    let specificity = { (preset: GPU) in Self.words(preset.name).filter { !Self.isMemorySize($0) }.count }
    return candidates.max { a, b in
      specificity(a) != specificity(b) ? specificity(a) < specificity(b) : a.capacity < b.capacity
    }
  }

  /// The device to judge a run against: the matching preset (for its architecture and bf16
  /// support) or one described by the compute capability, with the memory free now as its
  /// capacity, never more than the preset's usable capacity (or the total without one).
  public func judged(among presets: [GPU]) -> GPU {
    let preset = matchingPreset(among: presets)
    let capacity = min(free, preset?.capacity ?? total)
    let now =
      "\(name) (GPU \(index)): \(Self.mib(free)) free of \(Self.mib(total)) now, \(Self.mib(used)) in use by other processes"
    let source =
      "nvidia-smi on this machine; judged against the memory free now"
      + (preset.map { ", at most the \($0.name) preset's usable capacity" } ?? "")
    if let preset { return preset.withCapacity(capacity, displayName: now, source: source) }
    let architecture = computeCapability.flatMap(Self.architecture)
    return GPU(
      name: "gpu\(index)", displayName: now, vendor: .nvidia, architecture: architecture,
      computeCapability: computeCapability,
      capacity: capacity, supportsBFloat16: computeCapability.map { $0 >= .firstWithBFloat16 } ?? true,
      hasUnifiedMemory: false, aliases: [], source: source)
  }

  /// NVIDIA's architecture of a compute capability (sm_70 Volta ... sm_100/sm_120 Blackwell).
  static func architecture(_ capability: ComputeCapability) -> GPUArchitecture? {
    switch (capability.major, capability.minor) {
    case (7, 0), (7, 2): return .volta
    case (7, 5): return .turing
    case (8, 0), (8, 6), (8, 7): return .ampere
    case (8, 9): return .adaLovelace
    case (9, _): return .hopper
    case (10, _), (12, _): return .blackwell
    default: return nil
    }
  }

  static func words(_ name: String) -> [String] {
    name.lowercased().split(whereSeparator: { $0 == " " || $0 == "-" || $0 == "_" }).map(String.init)
  }

  /// `16gb`, `80gb`: a preset name's memory size, checked by capacity rather than by name.
  static func isMemorySize(_ word: String) -> Bool {
    word.hasSuffix("gb") && !word.dropLast(2).isEmpty && word.dropLast(2).allSatisfy(\.isNumber)
  }

  static func mib(_ bytes: ByteCount) -> String { NumberText.grouped(bytes.bytes >> 20) + " MiB" }
}

/// The caching allocator's options, as `PYTORCH_CUDA_ALLOC_CONF` writes them
/// (`expandable_segments:True,max_split_size_mb:128`). PyTorch 2.10
/// `c10/cuda/CUDAAllocatorConfig.cpp` reads the same keys.
public struct AllocatorSettings: Hashable, Sendable {
  /// Segments grow by mapping pages at their end instead of one cudaMalloc per segment, and
  /// any rest of at least 512 B is split off (`should_split`): near-zero fragmentation.
  public var expandableSegments: Bool
  /// Blocks of at least this size are "oversize": never split, and not handed to a request
  /// below it (nil: unlimited, the default).
  public var maxSplitBytes: Int64?
  /// `garbage_collection_threshold`: PyTorch applies it only when a per-process memory
  /// fraction is set (`set_per_process_memory_fraction`), which the estimate does not model:
  /// read and shown, it changes no figure.
  public var garbageCollectionThreshold: Double?
  /// `roundup_power2_divisions`: requests are rounded up to one of this many steps between
  /// powers of two (nil or 1: to 512 B only).
  public var roundupPower2Divisions: Int64?
  /// Entries read as PyTorch reads them that change nothing on the GPU (pinned host memory,
  /// locking, CUDA graphs, the native backend named), kept as given (`key:value`) to be shown.
  public var withoutEffect: [String] = []

  public init(
    expandableSegments: Bool = false, maxSplitBytes: Int64? = nil, garbageCollectionThreshold: Double? = nil,
    roundupPower2Divisions: Int64? = nil
  ) {
    self.expandableSegments = expandableSegments
    self.maxSplitBytes = maxSplitBytes
    self.garbageCollectionThreshold = garbageCollectionThreshold
    self.roundupPower2Divisions = roundupPower2Divisions
  }

  /// PyTorch's defaults.
  public static let pytorchDefault = AllocatorSettings()

  public var isDefault: Bool { self == .pytorchDefault }

  /// The settings as `PYTORCH_CUDA_ALLOC_CONF` text (empty for the defaults).
  public var configuration: String {
    var parts: [String] = []
    if expandableSegments { parts.append("expandable_segments:True") }
    if let maxSplitBytes { parts.append("max_split_size_mb:\(maxSplitBytes >> 20)") }
    if let garbageCollectionThreshold { parts.append("garbage_collection_threshold:\(garbageCollectionThreshold)") }
    if let roundupPower2Divisions { parts.append("roundup_power2_divisions:\(roundupPower2Divisions)") }
    return (parts + withoutEffect).joined(separator: ",")
  }

  /// Reads `PYTORCH_CUDA_ALLOC_CONF` text, entries separated by commas (or spaces). Every key
  /// PyTorch 2.10 accepts is read (`CUDAAllocatorConfig::parseArgs`): the four above change the
  /// simulation; those that change nothing on the GPU are kept in ``withoutEffect``; those that
  /// change what the allocator reserves in a way the simulation does not follow
  /// (`backend:cudaMallocAsync`, `max_non_split_rounding_mb`, `per_process_memory_fraction`, the
  /// list form of `roundup_power2_divisions`) are refused, saying so. An unknown key is refused
  /// by name, so a typo never passes silently.
  public init(configuration text: String) throws(AllocatorSettingsError) {
    self.init()
    for entry in Self.entries(text) {
      let parts = entry.split(separator: ":", maxSplits: 1).map { String($0).trimmingHorizontalWhitespace() }
      guard parts.count == 2 else {
        throw AllocatorSettingsError(key: entry, value: "", problem: .expected("key:value"))
      }
      let (key, value) = (parts[0], parts[1])
      func invalid(_ expected: String) -> AllocatorSettingsError {
        AllocatorSettingsError(key: key, value: value, problem: .expected(expected))
      }
      func notModelled(_ why: String) -> AllocatorSettingsError {
        AllocatorSettingsError(key: key, value: value, problem: .notModelled(why))
      }
      func boolean() throws(AllocatorSettingsError) -> Bool {
        switch value.lowercased() {
        case "true": return true
        case "false": return false
        default: throw invalid("True or False")
        }
      }
      switch key {
      case "expandable_segments":
        expandableSegments = try boolean()
      case "max_split_size_mb":
        // PyTorch: at least 20 MiB (kLargeBuffer), in MiB.
        guard let mebibytes = Int64(value), mebibytes > 20, mebibytes < (1 << 40) else {
          throw invalid("a whole number of MiB above 20")
        }
        maxSplitBytes = mebibytes << 20
      case "garbage_collection_threshold":
        guard let threshold = Double(value), threshold > 0, threshold < 1 else {
          throw invalid("a number between 0 and 1 (exclusive)")
        }
        garbageCollectionThreshold = threshold
      case "roundup_power2_divisions":
        if value.hasPrefix("[") {
          throw notModelled("divisions per size interval are not simulated; give one power of two for every size")
        }
        guard let divisions = Int64(value), divisions >= 1, divisions <= 64, divisions & (divisions - 1) == 0 else {
          throw invalid("a power of two from 1 to 64")
        }
        roundupPower2Divisions = divisions
      case "release_lock_on_cudamalloc", "pinned_use_cuda_host_register", "pinned_use_background_threads",
        "graph_capture_record_stream_reuse":
        // Locking, pinned host memory and CUDA graph capture: nothing a training step reserves.
        _ = try boolean()
        withoutEffect.append("\(key):\(value)")
      case "pinned_num_register_threads", "pinned_reserve_segment_size_mb":
        guard let count = Int64(value), count >= 1, count < (1 << 40) else { throw invalid("a positive whole number") }
        withoutEffect.append("\(key):\(value)")
      case "backend":
        switch value {
        case "native": withoutEffect.append("\(key):\(value)")
        case "cudaMallocAsync": throw notModelled("CUDA's own asynchronous allocator is not simulated")
        default: throw invalid("native or cudaMallocAsync")
        }
      case "max_non_split_rounding_mb", "per_process_memory_fraction":
        throw notModelled("it changes what the allocator reserves in a way the simulation does not follow")
      default:
        throw AllocatorSettingsError(key: key, value: value, problem: .unknownKey)
      }
    }
  }

  /// The entries of `text`: split at commas and spaces outside brackets, as PyTorch's
  /// tokenizer keeps a bracketed list (`roundup_power2_divisions:[256:1,512:2]`) one value.
  private static func entries(_ text: String) -> [String] {
    var entries: [String] = []
    var current = ""
    var depth = 0
    for character in text {
      switch character {
      case "[": depth += 1
      case "]": depth = max(0, depth - 1)
      case "," where depth == 0, " " where depth == 0:
        if !current.isEmpty { entries.append(current) }
        current = ""
        continue
      default: break
      }
      current.append(character)
    }
    if !current.isEmpty { entries.append(current) }
    return entries
  }
}

/// A `PYTORCH_CUDA_ALLOC_CONF` entry the estimate cannot read.
public struct AllocatorSettingsError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Problem: Hashable, Sendable {
    /// The value is not one the key takes.
    case expected(String)
    /// PyTorch has no such key.
    case unknownKey
    /// A setting PyTorch reads that the simulation does not follow, and why.
    case notModelled(String)
  }

  public let key: String
  public let value: String
  public let problem: Problem

  public var description: String {
    switch problem {
    case .expected(let expected):
      return "allocator setting '\(key)' value '\(value)' is invalid: expected \(expected)"
    case .unknownKey:
      return "unknown allocator setting '\(key)' (value '\(value)'): expected one of expandable_segments, "
        + "max_split_size_mb, garbage_collection_threshold, roundup_power2_divisions, or a PyTorch setting "
        + "without effect on the GPU (release_lock_on_cudamalloc, pinned_use_cuda_host_register, "
        + "pinned_num_register_threads, pinned_use_background_threads, pinned_reserve_segment_size_mb, "
        + "graph_capture_record_stream_reuse, backend:native)"
    case .notModelled(let why):
      return "allocator setting '\(key):\(value)' is not modelled: \(why)"
    }
  }
}

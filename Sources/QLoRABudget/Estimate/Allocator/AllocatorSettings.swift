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
    return parts.joined(separator: ",")
  }

  /// Reads `PYTORCH_CUDA_ALLOC_CONF` text. Keys the estimate does not model (`backend`,
  /// `pinned_use_cuda_host_register`, ...) are refused by name, so a typo never passes silently.
  public init(configuration text: String) throws(AllocatorSettingsError) {
    self.init()
    for pair in text.split(whereSeparator: { $0 == "," || $0 == " " }) where !pair.isEmpty {
      let parts = pair.split(separator: ":", maxSplits: 1).map { String($0).trimmingHorizontalWhitespace() }
      guard parts.count == 2 else { throw AllocatorSettingsError(key: String(pair), value: "", expected: "key:value") }
      let (key, value) = (parts[0], parts[1])
      switch key {
      case "expandable_segments":
        switch value.lowercased() {
        case "true": expandableSegments = true
        case "false": expandableSegments = false
        default: throw AllocatorSettingsError(key: key, value: value, expected: "True or False")
        }
      case "max_split_size_mb":
        // PyTorch: at least 20 MiB (kLargeBuffer), in MiB.
        guard let mebibytes = Int64(value), mebibytes > 20, mebibytes < (1 << 40) else {
          throw AllocatorSettingsError(key: key, value: value, expected: "a whole number of MiB above 20")
        }
        maxSplitBytes = mebibytes << 20
      case "garbage_collection_threshold":
        guard let threshold = Double(value), threshold > 0, threshold < 1 else {
          throw AllocatorSettingsError(key: key, value: value, expected: "a number between 0 and 1 (exclusive)")
        }
        garbageCollectionThreshold = threshold
      case "roundup_power2_divisions":
        guard let divisions = Int64(value), divisions >= 1, divisions <= 64, divisions & (divisions - 1) == 0 else {
          throw AllocatorSettingsError(key: key, value: value, expected: "a power of two from 1 to 64")
        }
        roundupPower2Divisions = divisions
      default:
        throw AllocatorSettingsError(
          key: key, value: value,
          expected:
            "one of expandable_segments, max_split_size_mb, garbage_collection_threshold, roundup_power2_divisions")
      }
    }
  }
}

/// A `PYTORCH_CUDA_ALLOC_CONF` entry the estimate cannot read.
public struct AllocatorSettingsError: Error, Hashable, Sendable, CustomStringConvertible {
  public let key: String
  public let value: String
  public let expected: String
  public var description: String { "allocator setting '\(key)' value '\(value)' is invalid: expected \(expected)" }
}

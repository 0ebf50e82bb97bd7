/// A GPU (or a device with unified memory) and the memory a training process can use on it.
public struct GPU: Hashable, Sendable {
  public let name: String
  public let displayName: String
  public let vendor: String
  public let architecture: String?
  /// The real usable capacity: what the driver reports as total memory, not the marketing figure.
  public let capacity: ByteCount
  public let supportsBFloat16: Bool
  public let hasUnifiedMemory: Bool
  public let aliases: [String]
  /// Where the capacity figure comes from.
  public let source: String

  public init(
    name: String, displayName: String, vendor: String, architecture: String?, capacity: ByteCount,
    supportsBFloat16: Bool, hasUnifiedMemory: Bool, aliases: [String], source: String
  ) {
    self.name = name
    self.displayName = displayName
    self.vendor = vendor
    self.architecture = architecture
    self.capacity = capacity
    self.supportsBFloat16 = supportsBFloat16
    self.hasUnifiedMemory = hasUnifiedMemory
    self.aliases = aliases
    self.source = source
  }

  /// Whether bitsandbytes' 4-bit layers and optimizers run on it (CUDA, and ROCm on AMD
  /// Instinct); Apple's unified-memory GPUs have no bitsandbytes backend for training.
  public var runsBitsandbytes: Bool { !hasUnifiedMemory && vendor != "apple" }

  /// A device known only by its capacity (`--gpu 24GB`).
  public static func custom(capacity: ByteCount, label: String) -> GPU {
    GPU(
      name: label, displayName: "a \(label) device", vendor: "unknown", architecture: nil, capacity: capacity,
      supportsBFloat16: true, hasUnifiedMemory: false, aliases: [], source: "given on the command line")
  }
}

extension GPU {
  /// Whether the device can run `setup` at all: bitsandbytes where the setup needs it, bf16
  /// where the setup computes in it (Ampere and later). A planner never proposes a GPU that
  /// cannot.
  public func canRun(_ setup: TrainingSetup) -> Bool {
    (!setup.needsBitsandbytes || runsBitsandbytes) && (setup.computeDtype != .bf16 || supportsBFloat16)
  }
}

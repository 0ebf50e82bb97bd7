/// A GPU (or a device with unified memory) and the memory a training process can use on it.
public struct GPU: Hashable, Sendable {
  public let name: String
  public let displayName: String
  public let vendor: GPUVendor
  /// nil for a device known only by its capacity.
  public let architecture: GPUArchitecture?
  /// NVIDIA only: the CUDA compute capability (`sm_89` is 8.9).
  public let computeCapability: ComputeCapability?
  /// The real usable capacity: what the driver reports as total memory, not the marketing figure.
  public let capacity: ByteCount
  /// Native bf16 compute (NVIDIA Ampere and later, AMD CDNA, Apple M2 and later).
  public let supportsBFloat16: Bool
  /// CPU and GPU share one memory (Apple silicon): the capacity is the OS's GPU working-set limit.
  public let hasUnifiedMemory: Bool
  public let aliases: [String]
  /// Where the capacity figure comes from.
  public let source: String

  public init(
    name: String, displayName: String, vendor: GPUVendor, architecture: GPUArchitecture?,
    computeCapability: ComputeCapability?, capacity: ByteCount, supportsBFloat16: Bool, hasUnifiedMemory: Bool,
    aliases: [String], source: String
  ) {
    self.name = name
    self.displayName = displayName
    self.vendor = vendor
    self.architecture = architecture
    self.computeCapability = computeCapability
    self.capacity = capacity
    self.supportsBFloat16 = supportsBFloat16
    self.hasUnifiedMemory = hasUnifiedMemory
    self.aliases = aliases
    self.source = source
  }

  /// Whether bitsandbytes' 4-bit layers and optimizers run on it (CUDA, and ROCm on AMD
  /// Instinct); Apple's unified-memory GPUs have no bitsandbytes backend for training.
  public var runsBitsandbytes: Bool { !hasUnifiedMemory && vendor != .apple }

  /// A device known only by its capacity (`--gpu 24GB`): assumed to run everything.
  public static func custom(capacity: ByteCount, label: String) -> GPU {
    GPU(
      name: label, displayName: "a \(label) device", vendor: .unknown, architecture: nil, computeCapability: nil,
      capacity: capacity, supportsBFloat16: true, hasUnifiedMemory: false, aliases: [],
      source: "given on the command line")
  }
}

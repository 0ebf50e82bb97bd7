/// Who makes a device, which decides the software stack a fine-tune runs on it with.
public enum GPUVendor: String, CaseIterable, Hashable, Sendable {
  /// CUDA: bitsandbytes' reference backend.
  case nvidia
  /// ROCm on AMD Instinct: bitsandbytes has a ROCm backend.
  case amd
  /// Metal on Apple silicon: unified memory, no bitsandbytes training backend.
  case apple
  /// A device known only by its capacity (`--gpu 24GB`).
  case unknown

  /// The tool that shows a process's device memory, for labelling the peak a person compares
  /// with; nil where no such per-process figure exists (Apple's unified memory).
  public var processMemoryTool: String? {
    switch self {
    case .nvidia, .unknown: return "nvidia-smi"
    case .amd: return "amd-smi"
    case .apple: return nil
    }
  }
}

/// A GPU architecture: what decides which dtypes have hardware support and which kernels exist.
public enum GPUArchitecture: String, CaseIterable, Hashable, Sendable {
  case volta = "Volta"
  case turing = "Turing"
  case ampere = "Ampere"
  case adaLovelace = "Ada Lovelace"
  case hopper = "Hopper"
  case blackwell = "Blackwell"
  case cdna3 = "CDNA 3"
  case appleSilicon = "Apple silicon"

  /// The vendor that makes this architecture.
  public var vendor: GPUVendor {
    switch self {
    case .volta, .turing, .ampere, .adaLovelace, .hopper, .blackwell: return .nvidia
    case .cdna3: return .amd
    case .appleSilicon: return .apple
    }
  }
}

/// A CUDA compute capability (`sm_89` is 8.9), compared major first.
public struct ComputeCapability: Hashable, Sendable, Comparable, CustomStringConvertible {
  public let major: Int
  public let minor: Int

  public init(major: Int, minor: Int) {
    self.major = major
    self.minor = minor
  }

  /// Parses `"8.9"`; nil for anything else.
  public init?(_ text: String) {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]), (0...99).contains(major),
      (0...9).contains(minor)
    else { return nil }
    self.init(major: major, minor: minor)
  }

  /// bf16 tensor-core math arrived with Ampere (sm_80): `torch.cuda.is_bf16_supported()`'s native case.
  public static let firstWithBFloat16 = ComputeCapability(major: 8, minor: 0)

  public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.major, lhs.minor) < (rhs.major, rhs.minor) }

  public var description: String { "\(major).\(minor)" }
}

/// Something a training setup asks of a GPU that the GPU cannot do. The estimate still counts
/// the bytes (they are what the setup would take), but the run would not go as configured.
public enum HardwareIncompatibility: Hashable, Sendable, CustomStringConvertible {
  /// bf16 compute on a GPU without native bf16 (before NVIDIA Ampere: T4, V100; Apple M1).
  /// torch may emulate it, slowly, or refuse (`bf16=True` in HF Trainer raises on such GPUs).
  /// The advice follows the vendor: Apple's GPUs run no bitsandbytes, so no bnb key is named.
  case computeDtypeUnsupported(ComputeDtype, gpu: String, vendor: GPUVendor)
  /// A quantized base or an 8-bit/paged optimizer on a device bitsandbytes has no training
  /// backend for (Apple's unified-memory GPUs).
  case bitsandbytesUnavailable(gpu: String)

  /// A stable identifier for scripts (`--json`).
  public var kind: String {
    switch self {
    case .computeDtypeUnsupported: return "compute_dtype_unsupported"
    case .bitsandbytesUnavailable: return "bitsandbytes_unavailable"
    }
  }

  public var description: String {
    switch self {
    case .computeDtypeUnsupported(let dtype, let gpu, let vendor):
      switch vendor {
      case .apple:
        return
          "\(gpu) has no native \(dtype.rawValue) compute (Apple silicon has it from M2, with macOS 14): train in fp16 (fp16=True)"
      case .amd:
        return
          "\(gpu) has no native \(dtype.rawValue) compute: train in fp16 (bnb_4bit_compute_dtype=float16, fp16=True)"
      case .nvidia, .unknown:
        return "\(gpu) has no native \(dtype.rawValue) compute (needs NVIDIA Ampere or later): "
          + "train in fp16 (bnb_4bit_compute_dtype=float16, fp16=True)"
      }
    case .bitsandbytesUnavailable(let gpu):
      return "bitsandbytes has no training backend on \(gpu) (unified memory): its 4-bit layers and "
        + "8-bit/paged optimizers do not run there; train a 16-bit base with a plain optimizer, or use another device"
    }
  }
}

extension GPU {
  /// What `setup` asks of this GPU that it cannot do; empty when the setup runs as configured.
  /// The one place that decides hardware compatibility: the estimate reports it and the
  /// smallest-GPU search skips GPUs for which it is not empty.
  public func incompatibilities(with setup: TrainingSetup) -> [HardwareIncompatibility] {
    var found: [HardwareIncompatibility] = []
    if setup.computeDtype == .bf16, !supportsBFloat16 {
      found.append(.computeDtypeUnsupported(.bf16, gpu: displayName, vendor: vendor))
    }
    if setup.needsBitsandbytes, !runsBitsandbytes {
      found.append(.bitsandbytesUnavailable(gpu: displayName))
    }
    return found
  }

  /// Whether the device can run `setup` as configured: no ``incompatibilities(with:)``. A
  /// planner never proposes a GPU that cannot.
  public func canRun(_ setup: TrainingSetup) -> Bool { incompatibilities(with: setup).isEmpty }
}

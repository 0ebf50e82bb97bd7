/// The storage type of a tensor, with its width in bytes.
public enum TensorDtype: String, CaseIterable, Hashable, Sendable, Codable {
  case float32 = "fp32"
  case bfloat16 = "bf16"
  case float16 = "fp16"
  case int8
  case uint8

  public var byteWidth: Int64 {
    switch self {
    case .float32: return 4
    case .bfloat16, .float16: return 2
    case .int8, .uint8: return 1
    }
  }
}

/// The 16-bit type the model computes in (`bnb_4bit_compute_dtype`, Trainer's bf16/fp16).
public enum ComputeDtype: String, CaseIterable, Hashable, Sendable, Codable {
  case bf16, fp16

  public var tensorDtype: TensorDtype { self == .bf16 ? .bfloat16 : .float16 }
}

/// A recipe's rule for one kind of tensor: always fp32, or the compute dtype.
public enum DtypeRule: String, Hashable, Sendable, Codable {
  case float32 = "fp32"
  case compute

  public func resolved(_ compute: ComputeDtype) -> TensorDtype {
    self == .float32 ? .float32 : compute.tensorDtype
  }
}

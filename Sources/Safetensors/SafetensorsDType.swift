/// The element types of the safetensors format, by their header names.
///
/// Sizes in bytes: F64/I64/U64 8, F32/I32/U32 4, F16/BF16/I16/U16 2, I8/U8/BOOL/F8_* 1.
/// Source: huggingface/safetensors `Dtype` (safetensors/src/tensor.rs).
public enum SafetensorsDType: String, CaseIterable, Hashable, Sendable {
  case f64 = "F64"
  case f32 = "F32"
  case f16 = "F16"
  case bf16 = "BF16"
  case i64 = "I64"
  case i32 = "I32"
  case i16 = "I16"
  case i8 = "I8"
  case u64 = "U64"
  case u32 = "U32"
  case u16 = "U16"
  case u8 = "U8"
  case bool = "BOOL"
  case f8e4m3 = "F8_E4M3"
  case f8e5m2 = "F8_E5M2"

  /// Bytes per element.
  public var byteSize: Int64 {
    switch self {
    case .f64, .i64, .u64: 8
    case .f32, .i32, .u32: 4
    case .f16, .bf16, .i16, .u16: 2
    case .i8, .u8, .bool, .f8e4m3, .f8e5m2: 1
    }
  }

  /// Whether the type holds floating-point values.
  public var isFloatingPoint: Bool {
    switch self {
    case .f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2: true
    default: false
    }
  }
}

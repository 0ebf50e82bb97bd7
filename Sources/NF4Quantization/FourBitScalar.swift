/// A bfloat16 value held as its raw 16 bits (the upper half of a float32).
///
/// Widening to `Float` is exact (`bits << 16`). Narrowing from `Float` rounds to nearest, ties to
/// even, as PyTorch's `Tensor.to(torch.bfloat16)` does; a NaN stays a (quiet) NaN with its sign.
public struct BFloat16: Hashable, Sendable {
  /// The raw bits: sign, 8 exponent bits, 7 fraction bits.
  public var bitPattern: UInt16

  /// The value with these raw bits.
  public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

  /// `value` rounded to the nearest bfloat16, ties to even.
  @inline(__always)
  public init(_ value: Float) {
    let bits = value.bitPattern
    if value.isNaN {
      bitPattern = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
    } else {
      // Adding 0x7FFF plus the lowest kept bit rounds to nearest even; it cannot overflow
      // because a finite float's bits are below 0xFF80_0000 and infinities have no low bits.
      let rounding = 0x7FFF &+ ((bits >> 16) & 1)
      bitPattern = UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }
  }

  /// The exact float32 value.
  @inline(__always)
  public var floatValue: Float { Float(bitPattern: UInt32(bitPattern) << 16) }
}

/// An element type the engine quantizes from and dequantizes to: float32, float16, bfloat16.
///
/// Widening to `Float` is exact; narrowing from `Float` rounds to nearest, ties to even.
public protocol FourBitScalar: Sendable {
  /// The element as an exact float32.
  var floatValue: Float { get }
  /// The element nearest to `value` (round to nearest, ties to even).
  init(roundingFloat value: Float)
  /// The PyTorch name of the type: `float32`, `float16`, `bfloat16`.
  static var dtypeName: String { get }
  /// Sixteen consecutive elements at `pointer` (any alignment), widened exactly to float32:
  /// the load the quantize kernel runs on.
  static func widen16(_ pointer: UnsafePointer<Self>) -> SIMD16<Float>
  /// Stores sixteen float32 values at `pointer` (any alignment), each rounded as
  /// ``init(roundingFloat:)`` rounds: the store the dequantize kernel runs on.
  static func narrow16(_ values: SIMD16<Float>, to pointer: UnsafeMutablePointer<Self>)
}

extension Float: FourBitScalar {
  @inline(__always) public var floatValue: Float { self }
  @inline(__always) public init(roundingFloat value: Float) { self = value }
  public static var dtypeName: String { "float32" }
  @inline(__always) public static func widen16(_ pointer: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self)
  }
  @inline(__always) public static func narrow16(_ values: SIMD16<Float>, to pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: values, as: SIMD16<Float>.self)
  }
}

extension Float16: FourBitScalar {
  @inline(__always) public var floatValue: Float { Float(self) }
  @inline(__always) public init(roundingFloat value: Float) { self.init(value) }
  public static var dtypeName: String { "float16" }
  @inline(__always) public static func widen16(_ pointer: UnsafePointer<Float16>) -> SIMD16<Float> {
    SIMD16<Float>(UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float16>.self))
  }
  @inline(__always) public static func narrow16(_ values: SIMD16<Float>, to pointer: UnsafeMutablePointer<Float16>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: SIMD16<Float16>(values), as: SIMD16<Float16>.self)
  }
}

extension BFloat16: FourBitScalar {
  @inline(__always) public init(roundingFloat value: Float) { self.init(value) }
  public static var dtypeName: String { "bfloat16" }
  @inline(__always) public static func widen16(_ pointer: UnsafePointer<BFloat16>) -> SIMD16<Float> {
    let raw = UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<UInt16>.self)
    return unsafeBitCast(SIMD16<UInt32>(truncatingIfNeeded: raw) &<< 16, to: SIMD16<Float>.self)
  }
  /// Lane-wise ``BFloat16/init(_:)``: round to nearest even, NaN kept quiet.
  @inline(__always) public static func narrow16(_ values: SIMD16<Float>, to pointer: UnsafeMutablePointer<BFloat16>) {
    let bits = unsafeBitCast(values, to: SIMD16<UInt32>.self)
    var rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
    rounded.replace(with: (bits &>> 16) | 0x0040, where: (bits & 0x7FFF_FFFF) .> 0x7F80_0000)
    UnsafeMutableRawPointer(pointer).storeBytes(
      of: SIMD16<UInt16>(truncatingIfNeeded: rounded), as: SIMD16<UInt16>.self)
  }
}

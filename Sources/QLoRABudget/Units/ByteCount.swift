/// An exact amount of memory, in bytes.
///
/// Arithmetic stays in whole bytes (`Int64`); conversion to decimal (GB, 10^9) or binary
/// (GiB, 2^30) units happens only when a value is shown to a person
/// (`ByteCount+Formatting.swift`).
///
/// Nothing traps: a sum or product that would not fit in `Int64`, and a negative count given
/// by a caller, give ``ByteCount/overflow``, which absorbs every later operation the way NaN
/// does, so an estimate for an absurd setup can be refused with a clear error instead of
/// crashing (a library that embeds this one cannot be crashed by a value). ``init(exactly:)``
/// tells a negative count apart.
///
///     let weights = ByteCount.gibibytes(4)
///     weights.bytes            // 4_294_967_296
public struct ByteCount: Hashable, Comparable, Sendable {
  /// The number of bytes; `Int64.max` only for ``overflow``.
  public let bytes: Int64

  /// An exact byte count; a negative count (which no memory has) is ``overflow``.
  public init(_ bytes: Int64) {
    self.bytes = bytes >= 0 ? bytes : Int64.max
  }

  /// An exact byte count; nil for a negative count.
  public init?(exactly bytes: Int64) {
    guard bytes >= 0 else { return nil }
    self.bytes = bytes
  }

  /// The result of arithmetic that did not fit in 63 bits, or of a negative input.
  public static let overflow = ByteCount(Int64.max)

  /// Whether arithmetic that produced this value overflowed (or was given a negative count).
  public var isOverflow: Bool { bytes == Int64.max }

  /// The bytes of `count` elements of `bytesEach` bytes.
  public static func elements(_ count: Int64, bytesEach: Int64) -> ByteCount {
    bytesEach * ByteCount(count)
  }

  /// The bytes needed to hold `count` values of `bits` bits each, rounded up to whole bytes,
  /// the way packed storage rounds (two 4-bit codes per byte; an odd count pads one nibble).
  public static func elements(_ count: Int64, bitsEach bits: Int64) -> ByteCount {
    let (totalBits, overflowed) = count.multipliedReportingOverflow(by: bits)
    guard !overflowed, totalBits <= Int64.max - 7 else { return .overflow }
    return ByteCount((totalBits + 7) / 8)
  }

  public static func < (a: ByteCount, b: ByteCount) -> Bool { a.bytes < b.bytes }
}

extension ByteCount: AdditiveArithmetic {
  public static var zero: ByteCount { ByteCount(0) }

  public static func + (a: ByteCount, b: ByteCount) -> ByteCount {
    guard !a.isOverflow, !b.isOverflow else { return .overflow }
    let (sum, overflowed) = a.bytes.addingReportingOverflow(b.bytes)
    return overflowed || sum == Int64.max ? .overflow : ByteCount(sum)
  }

  /// The difference, clamped at zero: memory cannot be negative. Overflow absorbs.
  public static func - (a: ByteCount, b: ByteCount) -> ByteCount {
    guard !a.isOverflow, !b.isOverflow else { return .overflow }
    return ByteCount(max(0, a.bytes - b.bytes))
  }
}

extension ByteCount {
  /// `count` copies of `size`; a negative count gives ``overflow``.
  public static func * (count: Int64, size: ByteCount) -> ByteCount {
    guard count >= 0, !size.isOverflow else { return .overflow }
    let (product, overflowed) = count.multipliedReportingOverflow(by: size.bytes)
    return overflowed || product == Int64.max ? .overflow : ByteCount(product)
  }

  /// The sum of a sequence of byte counts.
  public static func sum<S: Sequence>(_ counts: S) -> ByteCount where S.Element == ByteCount {
    counts.reduce(.zero, +)
  }

  public static func kibibytes(_ n: Int64) -> ByteCount { n * ByteCount(1 << 10) }
  public static func mebibytes(_ n: Int64) -> ByteCount { n * ByteCount(1 << 20) }
  public static func gibibytes(_ n: Int64) -> ByteCount { n * ByteCount(1 << 30) }
  public static func gigabytes(_ n: Int64) -> ByteCount { n * ByteCount(1_000_000_000) }

  /// This amount in gibibytes (2^30 bytes), for display.
  public var gibibytes: Double { Double(bytes) / 1_073_741_824 }
  /// This amount in mebibytes (2^20 bytes), for display.
  public var mebibytes: Double { Double(bytes) / 1_048_576 }
  /// This amount in gigabytes (10^9 bytes), for display.
  public var gigabytes: Double { Double(bytes) / 1e9 }
}

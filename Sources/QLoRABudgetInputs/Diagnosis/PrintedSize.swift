import QLoRABudget

/// A size as PyTorch's allocator prints it (`format_size`: `0 bytes`, `576.00 KiB`,
/// `23.65 GiB`), turned into bytes exactly: `round(value x 2^30)` for GiB, 2^20 for MiB, 2^10
/// for KiB, 1 for bytes, computed on the decimal digits (never through a `Double`), halves
/// rounded up.
///
/// A reading too large for `Int64` (drivers have reported `17179869184.00 GiB`, which is 2^64
/// bytes) saturates at `Int64.max` and says so instead of overflowing.
public struct PrintedSize: Hashable, Sendable {
  public let bytes: Int64
  /// Whether the printed value exceeded `Int64.max` bytes and was clamped.
  public let saturated: Bool

  /// Units `format_size` prints, with the power of two each stands for.
  public enum Unit: String, CaseIterable, Sendable {
    case bytes, KiB, MiB, GiB, TiB, PiB

    var powerOfTwo: Int {
      switch self {
      case .bytes: return 0
      case .KiB: return 10
      case .MiB: return 20
      case .GiB: return 30
      case .TiB: return 40
      case .PiB: return 50
      }
    }
  }

  /// At most this many digits are read in one number: longer is not a size PyTorch prints.
  public static let maximumDigits = 64

  /// `value` is `digits` or `digits.digits`; nil for anything else.
  public init?(value: Substring, unit: Unit) {
    let parts = value.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    let isDigits = { (text: Substring) in
      !text.isEmpty && text.allSatisfy { $0.asciiValue.map { (48...57).contains($0) } ?? false }
    }
    guard value.count <= Self.maximumDigits, let whole = parts.first, isDigits(whole) else { return nil }
    let fraction = parts.count == 2 ? parts[1] : ""
    if parts.count == 2, !isDigits(fraction) { return nil }
    // Little-endian decimal digits of the number times 10^fraction.count, then doubled
    // `powerOfTwo` times: exact for any length, bounded by maximumDigits + 16 digits.
    var digits = (whole + fraction).reversed().map { Int($0.asciiValue! - 48) }
    for _ in 0..<unit.powerOfTwo {
      var carry = 0
      for index in digits.indices {
        let doubled = digits[index] * 2 + carry
        digits[index] = doubled % 10
        carry = doubled / 10
      }
      if carry > 0 { digits.append(carry) }
    }
    // Round at the decimal point: the first dropped digit decides (ties go up).
    let dropped = fraction.count
    let roundsUp = dropped > 0 && digits[dropped - 1] >= 5
    var result: Int64 = 0
    var saturated = false
    for digit in digits[dropped...].reversed() where !saturated {
      let (times10, overflow1) = result.multipliedReportingOverflow(by: 10)
      let (sum, overflow2) = times10.addingReportingOverflow(Int64(digit))
      if overflow1 || overflow2 { saturated = true } else { result = sum }
    }
    if roundsUp, !saturated {
      let (sum, overflow) = result.addingReportingOverflow(1)
      if overflow { saturated = true } else { result = sum }
    }
    self.bytes = saturated ? Int64.max : result
    self.saturated = saturated
  }
}

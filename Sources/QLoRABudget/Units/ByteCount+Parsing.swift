/// Why a memory size typed by a person was refused.
public enum ByteCountParseError: Error, Hashable, Sendable, CustomStringConvertible {
  case missingUnit(String)
  case unknownUnit(String, unit: String)
  case invalidNumber(String)
  case tooLarge(String)

  public var description: String {
    switch self {
    case .missingUnit(let text):
      return "'\(text)' has no unit: use e.g. '24GiB' (2^30 bytes) or '24GB' (10^9 bytes)"
    case .unknownUnit(let text, let unit):
      return
        "'\(text)' has an unknown unit '\(unit)': use B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)"
    case .invalidNumber(let text):
      return "'\(text)' is not a positive size, e.g. '24GiB' or '80GB'"
    case .tooLarge(let text):
      return "'\(text)' is larger than the 1 PB this tool accepts"
    }
  }
}

extension ByteCount {
  /// The largest size accepted from a person (10^15 bytes).
  public static let maximumParsed = ByteCount(1_000_000_000_000_000)

  /// Parses a size with an explicit unit: `24GiB`, `24GB`, `81559MiB`, `1.5TB`, `512 MiB`.
  ///
  /// Strict: a bare number (`24`) or a bare `G` is refused with both spellings shown, because
  /// GB (10^9) and GiB (2^30) differ by 7%. Units are case-insensitive except that `b` alone
  /// is refused (bits vs bytes).
  public init(parsing text: String) throws(ByteCountParseError) {
    let trimmed = text.trimmingWhitespace
    let numberEnd = trimmed.firstIndex { !($0.isASCII && ($0.isNumber || $0 == ".")) } ?? trimmed.endIndex
    let numberText = String(trimmed[..<numberEnd])
    let unit = String(trimmed[numberEnd...]).trimmingWhitespace
    guard !numberText.isEmpty, let number = Double(numberText), number.isFinite, number > 0 else {
      throw .invalidNumber(text)
    }
    guard !unit.isEmpty else { throw .missingUnit(text) }
    let multipliers: [String: Double] = [
      "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
      "KIB": 1024, "MIB": 1_048_576, "GIB": 1_073_741_824, "TIB": 1_099_511_627_776,
    ]
    guard unit != "b", let multiplier = multipliers[unit.uppercased()] else {
      if ["G", "M", "K", "T"].contains(unit.uppercased()) { throw .missingUnit(text) }
      throw .unknownUnit(text, unit: unit)
    }
    let bytes = (number * multiplier).rounded()
    guard bytes <= Double(Self.maximumParsed.bytes) else { throw .tooLarge(text) }
    guard bytes >= 1 else { throw .invalidNumber(text) }
    self.init(Int64(bytes))
  }
}

extension String {
  var trimmingWhitespace: String {
    var scalars = Substring(self)
    while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
    while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
    return String(scalars)
  }
}

/// Which family of units a byte count is shown in.
public enum ByteUnitSystem: String, CaseIterable, Hashable, Sendable {
  /// Powers of 1024: KiB, MiB, GiB, TiB.
  case binary
  /// Powers of 1000: kB, MB, GB, TB.
  case decimal
}

extension ByteCount {
  /// This amount with an explicit unit, e.g. `14.96 GiB` or `16.06 GB`; never a bare `G`.
  ///
  /// The unit is the largest one whose value is at least 1; two decimals (none for bytes).
  public func formatted(_ system: ByteUnitSystem = .binary, decimals: Int = 2) -> String {
    if isOverflow { return "overflow" }
    let units: [(String, Double)] =
      system == .binary
      ? [("TiB", 1_099_511_627_776), ("GiB", 1_073_741_824), ("MiB", 1_048_576), ("KiB", 1024)]
      : [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)]
    let value = Double(bytes)
    for (unit, size) in units where value >= size {
      return Self.fixed(value / size, decimals: decimals) + " " + unit
    }
    return "\(bytes) B"
  }

  /// `value` with exactly `decimals` digits after the point, without Foundation's locale.
  public static func fixed(_ value: Double, decimals: Int) -> String {
    let scale = (0..<decimals).reduce(1.0) { result, _ in result * 10 }
    let scaled = (value * scale).rounded()
    guard scaled.isFinite, scaled.magnitude < 9e18 else { return String(value) }
    let whole = Int64(scaled)
    guard decimals > 0 else { return String(whole) }
    let divisor = Int64(scale)
    let fraction = String(whole.magnitude % UInt64(divisor))
    return "\(whole / divisor).\(String(repeating: "0", count: decimals - fraction.count))\(fraction)"
  }
}

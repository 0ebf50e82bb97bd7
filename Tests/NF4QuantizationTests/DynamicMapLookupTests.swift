import NF4Quantization
import Testing

/// `DynamicMap.nearestCode` (a table plus a short scan) against the definition written out
/// here: the number of midpoints strictly below `z`, plus one when `z` is exactly on a midpoint
/// whose count is odd (a tie goes to the even code); NaN gives code 0.
@Suite struct DynamicMapLookupTests {
  static func definition(_ z: Float) -> UInt8 {
    if z.isNaN { return 0 }
    let midpoints = (0..<255).map { (DynamicMap.values[$0] + DynamicMap.values[$0 + 1]) / 2 }
    var below = midpoints.filter { $0 < z }.count
    if below < 255, midpoints[below] == z, below % 2 == 1 { below += 1 }
    return UInt8(below)
  }

  @Test func onAndBesideEveryMidpointAndValue() {
    var probes: [Float] = [
      0, -0.0, .nan, .infinity, -.infinity, 1, -1, 2, -2, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
    ]
    for k in 0..<255 {
      let midpoint = (DynamicMap.values[k] + DynamicMap.values[k + 1]) / 2
      var below = midpoint
      var above = midpoint
      probes.append(midpoint)
      for _ in 0..<8 {
        below = below.nextDown
        above = above.nextUp
        probes += [below, above]
      }
    }
    probes += DynamicMap.values + DynamicMap.values.map(\.nextUp) + DynamicMap.values.map(\.nextDown)
    let wrong = probes.filter { DynamicMap.nearestCode($0) != Self.definition($0) }
    #expect(
      wrong.isEmpty, "\(wrong.prefix(5).map { "\($0): \(DynamicMap.nearestCode($0)) vs \(Self.definition($0))" })")
  }

  @Test func aSweepOfEveryMagnitude() {
    // Values spread over every binade from 2^-40 to 2: 64 per binade, both signs.
    var probes: [Float] = []
    for exponent in -40...1 {
      for step in 0..<64 {
        let magnitude = Float(sign: .plus, exponent: exponent, significand: 1 + Float(step) / 64)
        probes += [magnitude, -magnitude]
      }
    }
    let wrong = probes.filter { DynamicMap.nearestCode($0) != Self.definition($0) }
    #expect(wrong.isEmpty, "\(wrong.prefix(5))")
  }
}

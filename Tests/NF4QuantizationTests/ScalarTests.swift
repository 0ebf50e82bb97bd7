import NF4Quantization
import Testing

/// bfloat16 rounding and the dynamic map's nearest-code rule, by hand-checkable values.
@Suite struct ScalarTests {
  @Test(arguments: [
    (UInt32(0x3F80_0000), UInt16(0x3F80)),  // 1.0 exactly
    (0x3F80_8000, 0x3F80),  // halfway, even kept
    (0x3F81_8000, 0x3F82),  // halfway, odd rounds up to even
    (0x3F80_8001, 0x3F81),  // above halfway
    (0x7F7F_FFFF, 0x7F80),  // largest float rounds to infinity
    (0xFF80_0000, 0xFF80),  // -infinity
    (0x7FC0_0001, 0x7FC0),  // NaN stays NaN
    (0x7F80_0001, 0x7FC0),  // signalling NaN becomes quiet
  ])
  func bfloat16RoundsToNearestEven(bits: UInt32, expected: UInt16) {
    #expect(BFloat16(Float(bitPattern: bits)).bitPattern == expected)
    var lanes = SIMD16<Float>(repeating: Float(bitPattern: bits))
    lanes[0] = 0
    var stored = [BFloat16](repeating: BFloat16(bitPattern: 0), count: 16)
    stored.withUnsafeMutableBufferPointer { BFloat16.narrow16(lanes, to: $0.baseAddress!) }
    #expect(stored[1].bitPattern == expected)
  }

  @Test func dynamicMapNearestCodeTiesGoToTheEvenCode() {
    // A value exactly on the float32 midpoint between codes 127 (0.0) and 128 (5.5e-7) gets the
    // even one, 128.
    let midpoint = DynamicMap.midpoints[127]
    #expect(DynamicMap.nearestCode(midpoint) == 128)
    // Between 128 and 129 the tie goes to 128.
    #expect(DynamicMap.nearestCode(DynamicMap.midpoints[128]) == 128)
    #expect(DynamicMap.nearestCode(0) == 127)
    #expect(DynamicMap.nearestCode(1) == 255)
    #expect(DynamicMap.nearestCode(-1) == 0)
    #expect(DynamicMap.nearestCode(.nan) == 0)
  }

  @Test func doubleQuantizationOfEqualAbsmaxIsExact() {
    // One nested block whose values all equal their mean: y = 0, a2 = 0, every code 127 (0.0),
    // dequantized exactly to the offset.
    let state = DoubleQuantizedAbsmax(quantizing: [0.25, 0.25, 0.25])
    #expect(state.offset == 0.25)
    #expect(state.nestedAbsmax == [0])
    #expect(state.codes == [127, 127, 127])
    #expect(state.dequantized() == [0.25, 0.25, 0.25])
  }
}

import NF4Quantization
import Testing

/// NaN, infinities, all-zero blocks and subnormals behave as bitsandbytes' CPU path does
/// (DESIGN.md section 5; docs/nf4-format.md "Special values").
@Suite struct SpecialValueTests {
  static let nf4 = try! QuantizationSettings(type: .nf4, blockSize: 64, doubleQuantization: false)
  static let fp4 = try! QuantizationSettings(type: .fp4, blockSize: 64, doubleQuantization: false)

  func absmax(_ tensor: QuantizedTensor) -> [Float] {
    guard case .float32(let values) = tensor.scales else { return [] }
    return values
  }

  @Test func allZeroFullBlockIsCode7WithZeroAbsmaxInNF4() throws {
    let tensor = try QuantizedTensor(quantizing: [Float](repeating: 0, count: 64), shape: [64], settings: Self.nf4)
    #expect(tensor.packed == [UInt8](repeating: 0x77, count: 32))
    #expect(absmax(tensor) == [0])
    #expect(tensor.dequantized() == [Float](repeating: 0, count: 64))
  }

  @Test func allZeroBlockIsCode0InFP4() throws {
    // FP4 has two zeros (codes 0 and 8); 0.0 falls in the bucket of the first in value order.
    let tensor = try QuantizedTensor(quantizing: [Float](repeating: 0, count: 64), shape: [64], settings: Self.fp4)
    #expect(tensor.packed == [UInt8](repeating: 0x00, count: 32))
  }

  @Test func allZeroPartialBlockStoresTheClampedAbsmax() throws {
    // The last block of 3 elements divides by max(absmax, 1e-38) and stores that value.
    let tensor = try QuantizedTensor(quantizing: [Float](repeating: 0, count: 67), shape: [67], settings: Self.nf4)
    let clamp: Float = 1e-38
    #expect(absmax(tensor) == [0, clamp])
    #expect(tensor.packed.suffix(2) == [0x77, 0x77])  // elements 64, 65 | 66 and the 0.0 pad
  }

  @Test func blockWithNaNHasNaNAbsmaxAndAllCodes15() throws {
    var values = [Float](repeating: 0.5, count: 128)
    values[70] = .nan
    let tensor = try QuantizedTensor(quantizing: values, shape: [128], settings: Self.nf4)
    #expect(absmax(tensor)[0] == 0.5)
    #expect(absmax(tensor)[1].isNaN)
    #expect(tensor.packed[32...] == [UInt8](repeating: 0xFF, count: 32)[...])
    let output = tensor.dequantized()
    #expect(output[..<64].allSatisfy { $0 == 0.5 })
    #expect(output[64...].allSatisfy { $0.isNaN })
  }

  @Test func infinityMakesTheRestOfItsBlockNaN() throws {
    // absmax = inf, 1/inf = 0: finite values scale to 0 (code 7), inf * 0 = NaN (code 15);
    // dequantized, 0 * inf = NaN and 1.0 * inf = inf.
    var values = [Float](repeating: 0.25, count: 64)
    values[3] = .infinity
    let tensor = try QuantizedTensor(quantizing: values, shape: [64], settings: Self.nf4)
    #expect(absmax(tensor) == [.infinity])
    #expect(tensor.packed[0] == 0x77)
    #expect(tensor.packed[1] == 0x7F)
    let output = tensor.dequantized()
    #expect(output[3] == .infinity)
    #expect(output.enumerated().allSatisfy { $0.offset == 3 || $0.element.isNaN })
  }

  @Test func subnormalBlockScalesByTheClampNotItsAbsmax() throws {
    // absmax 1e-39 is below the 1e-38 clamp: x * (1 / 1e-38) = about 0.1 for the largest element,
    // which lies between NF4's 0.0796 and the next threshold 0.1203: code 8. The stored absmax
    // is the unclamped 1e-39, so it dequantizes to 0.0796 * 1e-39.
    let subnormal = Float(bitPattern: 0x000A_E398)  // 1.0e-39, a float32 subnormal
    var values = [Float](repeating: 0, count: 64)
    values[0] = subnormal
    let tensor = try QuantizedTensor(quantizing: values, shape: [64], settings: Self.nf4)
    #expect(absmax(tensor) == [subnormal])
    #expect(tensor.packed[0] == 0x87)
    let nf4Code8: Float = 0.07958029955625534
    #expect(tensor.dequantized()[0] == nf4Code8 * subnormal)
  }

  @Test func valuesOnAThresholdGoToTheLowerCode() throws {
    // NF4's last threshold (0.7229568 + 1.0) / 2 = 0.8614784 in float32; block absmax 1.
    let threshold: Float = (0.7229568362236023 + 1.0) / 2
    let values: [Float] = [threshold, threshold.nextUp] + [Float](repeating: 1, count: 62)
    let tensor = try QuantizedTensor(quantizing: values, shape: [64], settings: Self.nf4)
    #expect(tensor.packed[0] == 0xEF)
  }
}

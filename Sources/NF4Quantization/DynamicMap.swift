/// bitsandbytes' signed 8-bit dynamic map: the 256 float32 values the 8-bit codes of a
/// double-quantized absmax stand for (`functional.create_dynamic_map(signed=True)`).
///
/// Values are sorted and strictly increasing: 127 negative values from -0.99296875 up to
/// -5.5e-7, then 0.0 (code 127), 127 positive values from 5.5e-7 to 0.99296875, and 1.0
/// (code 255). Each decade `10^(i-6)`, i = 0...6, holds `2^i` means of a linear grid on [0.1, 1]
/// (a dynamic exponent with a shrinking fraction: Dettmers 2015, arXiv 1511.04561).
/// Checked bit for bit against `nested_code_float32` in the bitsandbytes golden vectors (Tests/NF4QuantizationTests/Fixtures/bnb-4bit).
///
/// Quantizing with it (``nearestCode(_:)``) takes the nearest value, a tie going to the even
/// code, as bitsandbytes' CUDA kernel does.
public enum DynamicMap {
  /// The 256 values, in code order (which is also value order).
  public static let values: [Float] = [
    -0.99296874, -0.9789063, -0.96484375, -0.9507812, -0.93671876, -0.92265624, -0.9085938, -0.89453125,
    -0.8804687, -0.86640626, -0.85234374, -0.8382813, -0.82421875, -0.8101562, -0.79609376, -0.78203124,
    -0.7679688, -0.75390625, -0.7398437, -0.72578126, -0.7117188, -0.6976563, -0.68359375, -0.6695312,
    -0.65546876, -0.6414063, -0.6273438, -0.61328125, -0.5992187, -0.58515626, -0.5710938, -0.5570313,
    -0.54296875, -0.5289062, -0.5148437, -0.50078124, -0.4867187, -0.47265625, -0.45859373, -0.44453126,
    -0.43046874, -0.41640624, -0.40234375, -0.38828123, -0.37421876, -0.36015624, -0.34609374, -0.33203125,
    -0.31796873, -0.30390626, -0.28984374, -0.27578127, -0.26171875, -0.24765624, -0.23359375, -0.21953125,
    -0.20546874, -0.19140625, -0.17734376, -0.16328125, -0.14921875, -0.13515624, -0.12109375, -0.107031256,
    -0.09859375, -0.09578126, -0.092968754, -0.09015625, -0.08734375, -0.08453125, -0.08171876, -0.07890625,
    -0.07609375, -0.07328125, -0.070468746, -0.067656256, -0.06484375, -0.06203125, -0.059218753, -0.05640625,
    -0.05359375, -0.05078125, -0.04796875, -0.04515625, -0.042343747, -0.03953125, -0.036718752, -0.03390625,
    -0.03109375, -0.028281251, -0.02546875, -0.02265625, -0.019843752, -0.01703125, -0.01421875, -0.01140625,
    -0.00971875, -0.009156249, -0.00859375, -0.00803125, -0.00746875, -0.00690625, -0.00634375, -0.00578125,
    -0.0052187503, -0.0046562497, -0.00409375, -0.0035312497, -0.00296875, -0.00240625, -0.00184375, -0.0012812499,
    -0.0009437501, -0.00083125, -0.00071875006, -0.0006062501, -0.00049375003, -0.00038125002, -0.00026875004,
    -0.00015625001,
    -8.875e-05, -6.625e-05, -4.375e-05, -2.1249998e-05, -7.75e-06, -3.2500002e-06, -5.5000004e-07, 0,
    5.5000004e-07, 3.2500002e-06, 7.75e-06, 2.1249998e-05, 4.375e-05, 6.625e-05, 8.875e-05, 0.00015625001,
    0.00026875004, 0.00038125002, 0.00049375003, 0.0006062501, 0.00071875006, 0.00083125, 0.0009437501, 0.0012812499,
    0.00184375, 0.00240625, 0.00296875, 0.0035312497, 0.00409375, 0.0046562497, 0.0052187503, 0.00578125,
    0.00634375, 0.00690625, 0.00746875, 0.00803125, 0.00859375, 0.009156249, 0.00971875, 0.01140625,
    0.01421875, 0.01703125, 0.019843752, 0.02265625, 0.02546875, 0.028281251, 0.03109375, 0.03390625,
    0.036718752, 0.03953125, 0.042343747, 0.04515625, 0.04796875, 0.05078125, 0.05359375, 0.05640625,
    0.059218753, 0.06203125, 0.06484375, 0.067656256, 0.070468746, 0.07328125, 0.07609375, 0.07890625,
    0.08171876, 0.08453125, 0.08734375, 0.09015625, 0.092968754, 0.09578126, 0.09859375, 0.107031256,
    0.12109375, 0.13515624, 0.14921875, 0.16328125, 0.17734376, 0.19140625, 0.20546874, 0.21953125,
    0.23359375, 0.24765624, 0.26171875, 0.27578127, 0.28984374, 0.30390626, 0.31796873, 0.33203125,
    0.34609374, 0.36015624, 0.37421876, 0.38828123, 0.40234375, 0.41640624, 0.43046874, 0.44453126,
    0.45859373, 0.47265625, 0.4867187, 0.50078124, 0.5148437, 0.5289062, 0.54296875, 0.5570313,
    0.5710938, 0.58515626, 0.5992187, 0.61328125, 0.6273438, 0.6414063, 0.65546876, 0.6695312,
    0.68359375, 0.6976563, 0.7117188, 0.72578126, 0.7398437, 0.75390625, 0.7679688, 0.78203124,
    0.79609376, 0.8101562, 0.82421875, 0.8382813, 0.85234374, 0.86640626, 0.8804687, 0.89453125,
    0.9085938, 0.92265624, 0.93671876, 0.9507812, 0.96484375, 0.9789063, 0.99296874, 1,
  ]

  /// The 255 midpoints `(values[k] + values[k + 1]) / 2` in float32.
  public static let midpoints: [Float] = (0..<255).map { (values[$0] + values[$0 + 1]) / 2 }

  /// The code of the value nearest to `z`, a tie (z exactly on a float32 midpoint) going to the
  /// even code.
  ///
  /// `z` is normally in [-1, 1]. Values beyond the ends map to the end codes; NaN maps to code 0
  /// (what bitsandbytes' CPU quantizer gives too).
  public static func nearestCode(_ z: Float) -> UInt8 {
    midpoints.withUnsafeBufferPointer { midpoints in
      midpointsBelowCell.withUnsafeBufferPointer { table in
        nearestCode(z, midpoints: midpoints.baseAddress!, table: table.baseAddress!)
      }
    }
  }

  /// ``nearestCode(_:)`` with the tables' storage in hand (the double-quantization loop).
  ///
  /// The code is the number of midpoints strictly below `z` (plus one on an odd tie). A
  /// 65,536-entry table indexed by the top 16 bits of `z`'s order-preserving key (``orderKey(_:)``:
  /// sign, exponent, 7 fraction bits, so cells are at most 2^-7 of their value wide) gives the
  /// number of midpoints below `z`'s cell; a short scan counts those inside it. The midpoints
  /// are at least 1.4% of their value apart, so a cell holds at most one.
  @inline(__always)
  static func nearestCode(_ z: Float, midpoints: UnsafePointer<Float>, table: UnsafePointer<UInt8>) -> UInt8 {
    guard !z.isNaN else { return 0 }
    var k = Int(table[Int(orderKey(z) >> 16)])
    while k < 255, midpoints[k] < z { k += 1 }
    if k < 255, midpoints[k] == z, k % 2 == 1 { k += 1 }
    return UInt8(k)
  }

  /// A float's bits as an unsigned integer in the float's order: positive values with the sign
  /// bit set, negative values inverted (so -0.0 sits just below +0.0).
  @inline(__always)
  static func orderKey(_ z: Float) -> UInt32 {
    let bits = z.bitPattern
    return bits & 0x8000_0000 == 0 ? bits | 0x8000_0000 : ~bits
  }

  /// For each cell (the top 16 bits of ``orderKey(_:)``), the number of midpoints in the cells
  /// below it: all of them are below every value of the cell.
  static let midpointsBelowCell: [UInt8] = {
    let cells = midpoints.map { Int(orderKey($0) >> 16) }
    var table = [UInt8](repeating: 0, count: 1 << 16)
    var below = 0
    for cell in 0..<(1 << 16) {
      while below < cells.count, cells[below] < cell { below += 1 }
      table[cell] = UInt8(below)
    }
    return table
  }()
}

/// The quantize kernel's code lookup: a table indexed by the scaled value, exact because the
/// cells that straddle a threshold are marked and decided by comparisons.
///
/// **Index.** For a scaled value `z`, `cell(z)` = the low 14 bits of `bits(z * S + B)` with
/// `S` = ``cellsPerUnit`` and `B = 2^23 + 2S`: `z * S` is exact (S is a power of two) and the
/// add rounds it to an integer, because every float in [2^23, 2^24) is an integer. So `cell` is
/// `round(z * S) + 2S`, a non-decreasing function of `z` (IEEE add and multiply by a positive
/// constant are monotone), with cells 1/S wide over [-2, 2). In a full block with a finite
/// absmax `a`, `|z| = |x * (1 / max(a, 1e-38))| <= 1 + 2^-23`, so the index is inside the table
/// (the index is masked to the table's size anyway, so no value can read outside it).
///
/// **Table.** Because `cell` is monotone, a threshold `t` with `cell(t) < c` is below every
/// value of cell `c`, one with `cell(t) > c` above every value, and a cell holds values on
/// both sides of a threshold exactly when `cell(t) == cell(t.nextUp)` (`t` itself goes low:
/// ties go to the lower code). Every other cell holds one bucket,
/// `#{t : cell(t) < c}`, stored as its code (FP4's value order applied); a straddling cell
/// holds the mark ``straddles``, and a group of 16 that touches one is bucketed by comparisons
/// (``FourBitEncoder/codeBytes(_:)``), the same rule as the reference. At S = 4096 at most 15
/// of the 8,192 cells in [-1, 1] straddle, about 0.2% of N(0, σ²) weights fall in one.
struct FourBitLookup {
  static let cellsPerUnit = 4096
  /// Cells over [-2, 2): a power of two, so the index can be masked.
  static let cellCount = 4 * cellsPerUnit
  /// An entry's mark for a straddling cell, above the code bits (and still above them once the
  /// high element's entry is shifted left by 4).
  static let straddles: UInt16 = 0x100
  static let bias = Float(1 << 23) + Float(2 * cellsPerUnit)

  static let nf4Table = table(.nf4)
  static let fp4Table = table(.fp4)

  static func table(for type: FourBitType) -> [UInt16] {
    switch type {
    case .nf4: nf4Table
    case .fp4: fp4Table
    }
  }

  /// The cell of one scaled value: the low bits of `z * S + B`, which are
  /// `round(z * S) + 2S` (the bits of 2^23 above them are the exponent).
  static func cell(_ z: Float) -> Int {
    Int((z * Float(cellsPerUnit) + bias).bitPattern) & (cellCount - 1)
  }

  static func table(_ type: FourBitType) -> [UInt16] {
    let thresholdCells = type.thresholds.map(cell)
    let straddling = Set(type.thresholds.filter { cell($0) == cell($0.nextUp) }.map(cell))
    return (0..<cellCount).map { c in
      straddling.contains(c) ? straddles : UInt16(type.codesByValue[thresholdCells.filter { $0 < c }.count])
    }
  }

  let cells: UnsafePointer<UInt16>

  /// Codes of a full block with a finite absmax, scaled by `inverse`: 16 elements -> 16 cell
  /// indices -> 8 bytes of two entries each, or the comparisons for a group that touches a
  /// straddling cell.
  @inline(__always)
  func encodeFullBlock<T: FourBitScalar>(
    _ x: UnsafePointer<T>, blockSize: Int, inverse: Float, encoder: FourBitEncoder,
    into out: UnsafeMutablePointer<UInt8>
  ) {
    let scale = SIMD16<Float>(repeating: inverse)
    let unit = SIMD16<Float>(repeating: Float(Self.cellsPerUnit))
    let bias = SIMD16<Float>(repeating: Self.bias)
    var lanes = SIMD16<UInt32>()
    for offset in stride(from: 0, to: blockSize, by: 16) {
      let z = T.widen16(x + offset) * scale
      lanes = unsafeBitCast(z * unit + bias, to: SIMD16<UInt32>.self) & UInt32(Self.cellCount - 1)
      let marks = withUnsafeBytes(of: &lanes) { raw -> UInt16 in
        let index = raw.baseAddress!.assumingMemoryBound(to: UInt32.self)
        var marks: UInt16 = 0
        for k in 0..<8 {
          let pair = cells[Int(index[2 * k])] << 4 | cells[Int(index[2 * k + 1])]
          marks |= pair
          out[offset / 2 + k] = UInt8(truncatingIfNeeded: pair)
        }
        return marks
      }
      if marks & (Self.straddles << 4 | Self.straddles) != 0 {
        UnsafeMutableRawPointer(out + offset / 2).storeBytes(of: encoder.codeBytes(z).littleEndian, as: UInt64.self)
      }
    }
  }
}

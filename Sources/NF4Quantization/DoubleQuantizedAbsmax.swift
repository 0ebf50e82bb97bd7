/// Per-block absmax values stored in 8 bits: QLoRA's double quantization, as bitsandbytes does it.
///
/// For absmax values `a[0..<nb]` (float32):
/// - `offset = mean(a)` in float32, summed in PyTorch's order (``TorchCascadeSum``);
/// - `y[i] = a[i] - offset`, in nested blocks of 256;
/// - per nested block `a2 = max |y|` (float32; ``nestedAbsmax``);
/// - `codes[i]` = the ``DynamicMap`` code nearest to `y[i] * (1 / a2)`, ties to the even code
///   (`a2 == 0`, every `y` zero: code 127, the map's 0.0).
///
/// Dequantized: `a'[i] = Float(Float(DynamicMap.values[codes[i]] * a2) + offset)`, exactly
/// bitsandbytes' `dequantize_blockwise(...) + offset`.
///
/// bitsandbytes' CPU 8-bit quantizer finds the nearest code through a 65,536-bin lookup table,
/// so it can pick the neighbour of the nearest code for a value within one bin (2/65536) of a
/// midpoint; the golden tests allow exactly that and count those positions.
public struct DoubleQuantizedAbsmax: Hashable, Sendable {
  /// Absmax values per nested block (bitsandbytes' fixed 256).
  public static let nestedBlockSize = 256

  /// One 8-bit code per 4-bit block.
  public let codes: [UInt8]
  /// One float32 scale per nested block of 256 codes.
  public let nestedAbsmax: [Float]
  /// The mean of the original absmax values, added back when dequantizing.
  public let offset: Float

  /// Double-quantizes `absmax` (one float32 per 4-bit block); the nested blocks are
  /// independent once the offset is known, so they are split across `threads`.
  public init(quantizing absmax: [Float], threads: Int = 1) {
    let count = absmax.count
    let offset = absmax.withUnsafeBufferPointer { TorchCascadeSum.sum($0) } / Float(count)
    let nestedCount = (count + Self.nestedBlockSize - 1) / Self.nestedBlockSize
    var scales = [Float](repeating: 0, count: nestedCount)
    var codes = [UInt8](repeating: 0, count: count)
    absmax.withUnsafeBufferPointer { absmax in
      scales.withUnsafeMutableBufferPointer { scales in
        codes.withUnsafeMutableBufferPointer { codes in
          let (input, scales, codes) = (SharedPointer(absmax), SharedPointer(scales), SharedPointer(codes))
          FourBitKernels.forEachBlockRange(blockCount: nestedCount, threads: threads) { blocks in
            Self.quantize(
              input.base, count: count, offset: offset, blocks: blocks, scales: scales.base, codes: codes.base)
          }
        }
      }
    }
    self.codes = codes
    self.nestedAbsmax = scales
    self.offset = offset
  }

  /// Double quantization as a checkpoint stores it: refused when the float32 mean of the absmax
  /// values (or a nested scale) overflows, which would store NaN in the state.
  ///
  /// - Throws: ``QuantizationError/absmaxMeanOverflows(tensor:)`` naming `tensor`.
  static func refusingOverflow(_ absmax: [Float], threads: Int, tensor: String) throws(QuantizationError)
    -> DoubleQuantizedAbsmax
  {
    let nested = DoubleQuantizedAbsmax(quantizing: absmax, threads: threads)
    guard nested.offset.isFinite, nested.nestedAbsmax.allSatisfy(\.isFinite) else {
      throw .absmaxMeanOverflows(tensor: tensor)
    }
    return nested
  }

  /// Nested blocks `blocks`: each block's scale `max |a - offset|` and its codes.
  private static func quantize(
    _ absmax: UnsafePointer<Float>, count: Int, offset: Float, blocks: Range<Int>,
    scales: UnsafeMutablePointer<Float>, codes: UnsafeMutablePointer<UInt8>
  ) {
    DynamicMap.midpoints.withUnsafeBufferPointer { midpoints in
      DynamicMap.midpointsBelowCell.withUnsafeBufferPointer { table in
        for block in blocks {
          let range = (block * nestedBlockSize)..<min((block + 1) * nestedBlockSize, count)
          // bitsandbytes' C loop uses fmax, which skips NaN.
          var scale: Float = 0
          for i in range {
            let magnitude = (absmax[i] - offset).magnitude
            if !magnitude.isNaN { scale = max(scale, magnitude) }
          }
          let inverse = scale == 0 ? 0 : 1 / scale
          scales[block] = scale
          for i in range {
            codes[i] = DynamicMap.nearestCode(
              (absmax[i] - offset) * inverse, midpoints: midpoints.baseAddress!, table: table.baseAddress!)
          }
        }
      }
    }
  }

  /// State read back from storage, validated: one nested scale per 256 codes.
  ///
  /// - Throws: ``QuantizationError/bufferCountMismatch(buffer:expected:actual:)``.
  public init(codes: [UInt8], nestedAbsmax: [Float], offset: Float) throws(QuantizationError) {
    let expected = (codes.count + Self.nestedBlockSize - 1) / Self.nestedBlockSize
    guard nestedAbsmax.count == expected else {
      throw .bufferCountMismatch(buffer: "nested_absmax", expected: expected, actual: nestedAbsmax.count)
    }
    self.codes = codes
    self.nestedAbsmax = nestedAbsmax
    self.offset = offset
  }

  /// The absmax values these codes stand for (see the type's formula).
  public func dequantized() -> [Float] {
    codes.indices.map { i in
      let scaled = DynamicMap.values[Int(codes[i])] * nestedAbsmax[i / Self.nestedBlockSize]
      return scaled + offset
    }
  }
}

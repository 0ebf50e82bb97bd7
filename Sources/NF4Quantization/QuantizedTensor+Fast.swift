extension QuantizedTensor {
  /// Quantizes `values` (row-major, `shape`) with the fast kernels, bit-compatible with
  /// bitsandbytes 0.50.2's CPU `quantize_4bit`.
  ///
  /// Per block of `B` elements: `absmax = max |x|` (NaN if the block holds one); a full block
  /// scales by `x * (1 / max(absmax, 1e-38))`, the partial last block by
  /// `x / max(absmax, 1e-38)` (and stores that clamped absmax); the code is the bucket of the
  /// scaled value among ``FourBitType/thresholds`` (ties to the lower code), mapped through
  /// ``FourBitType/codesByValue``. With double quantization the absmax values become
  /// ``DoubleQuantizedAbsmax``.
  ///
  /// - Parameters:
  ///   - threads: blocks are split across this many threads (Dispatch); 1 runs inline.
  /// - Throws: ``QuantizationError`` if the shape is invalid, empty, or does not match the count.
  public init<T: FourBitScalar>(
    quantizing values: UnsafeBufferPointer<T>, shape: [Int], settings: QuantizationSettings,
    threads: Int = 1
  ) throws(QuantizationError) {
    let count = try Self.validatedCount(shape: shape, valueCount: values.count)
    let blockCount = (count - 1) / settings.blockSize + 1
    var absmax = [Float](repeating: 0, count: blockCount)
    var packed = [UInt8](repeating: 0, count: count / 2 + count % 2)
    absmax.withUnsafeMutableBufferPointer { absmax in
      packed.withUnsafeMutableBufferPointer { packed in
        let (input, absmax, packed) = (SharedPointer(values), SharedPointer(absmax), SharedPointer(packed))
        FourBitKernels.forEachBlockRange(blockCount: blockCount, threads: threads) { blocks in
          FourBitKernels.quantize(
            input.base, count: count, settings: settings, blocks: blocks,
            absmax: absmax.base, packed: packed.base)
        }
      }
    }
    let scales: BlockScales =
      settings.doubleQuantization
      ? .doubleQuantized(DoubleQuantizedAbsmax(quantizing: absmax, threads: threads)) : .float32(absmax)
    self.init(unchecked: settings, shape: shape, count: count, packed: packed, scales: scales)
  }

  /// Quantizes an array: the buffer initializer above, on the array's storage.
  public init<T: FourBitScalar>(
    quantizing values: [T], shape: [Int], settings: QuantizationSettings, threads: Int = 1
  ) throws(QuantizationError) {
    self = try values.withUnsafeBufferPointer { (buffer) throws(QuantizationError) in
      try QuantizedTensor(quantizing: buffer, shape: shape, settings: settings, threads: threads)
    }
  }

  /// The dequantized tensor with the fast kernels: element `i` is
  /// `T(codebook[q_i] * absmax[i / blockSize])`, rounded to nearest even for 16-bit `T`,
  /// where a double-quantized absmax is first ``DoubleQuantizedAbsmax/dequantized()``.
  /// Bit-identical to bitsandbytes' `dequantize_4bit`.
  public func dequantized<T: FourBitScalar>(as _: T.Type = Float.self, threads: Int = 1) -> [T] {
    [T](unsafeUninitializedCapacity: count) { out, initialized in
      dequantizeUnchecked(into: out, threads: threads)
      initialized = count
    }
  }

  /// Dequantizes into `out`, so a caller can reuse one buffer across tensors. Same values as
  /// ``dequantized(as:threads:)``.
  ///
  /// - Throws: ``QuantizationError/bufferCountMismatch(buffer:expected:actual:)`` unless `out`
  ///   holds exactly ``count`` elements.
  public func dequantize<T: FourBitScalar>(into out: UnsafeMutableBufferPointer<T>, threads: Int = 1)
    throws(QuantizationError)
  {
    guard out.count == count else { throw .bufferCountMismatch(buffer: "out", expected: count, actual: out.count) }
    dequantizeUnchecked(into: out, threads: threads)
  }

  private func dequantizeUnchecked<T: FourBitScalar>(into out: UnsafeMutableBufferPointer<T>, threads: Int) {
    let absmax = scales.absmax()
    let (count, blockSize, type) = (count, blockSize, type)
    packed.withUnsafeBufferPointer { packed in
      absmax.withUnsafeBufferPointer { absmax in
        let (packed, absmax, out) = (SharedPointer(packed), SharedPointer(absmax), SharedPointer(out))
        FourBitKernels.forEachBlockRange(blockCount: blockCount, threads: threads) { blocks in
          FourBitKernels.dequantize(
            packed.base, count: count, blockSize: blockSize, type: type, absmax: absmax.base,
            blocks: blocks, into: out.base)
        }
      }
    }
  }

  static func validatedCount(shape: [Int], valueCount: Int) throws(QuantizationError) -> Int {
    let count = try checkedElementCount(shape)
    guard count == valueCount else { throw .countMismatch(shape: shape, expected: count, actual: valueCount) }
    guard count > 0 else { throw .emptyTensor(shape: shape) }
    return count
  }
}

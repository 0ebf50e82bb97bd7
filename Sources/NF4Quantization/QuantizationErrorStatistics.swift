import Foundation
import Safetensors

/// How far a reconstruction is from the original values: what a 4-bit format costs.
///
/// Computed in Double over all elements: `MSE = sum (x - x')^2 / n`,
/// `maxAbsoluteError = max |x - x'|`, `SNR = 10 log10(sum x^2 / sum (x - x')^2)` dB
/// (infinite for an exact reconstruction).
public struct QuantizationErrorStatistics: Hashable, Sendable {
  public let meanSquaredError: Double
  public let maxAbsoluteError: Double
  public let signalToNoiseDecibels: Double
  /// The sums behind the figures, so statistics of several tensors combine exactly.
  public let elementCount: Int
  public let sumOfSquaredErrors: Double
  public let sumOfSquares: Double

  /// Statistics of `reconstructed` against `original`.
  ///
  /// - Throws: ``QuantizationError/countMismatch(shape:expected:actual:)`` unless both hold
  ///   the same, non-zero number of values.
  public init(original: [Float], reconstructed: [Float]) throws(QuantizationError) {
    guard original.count == reconstructed.count, !original.isEmpty else {
      throw .countMismatch(shape: [original.count], expected: original.count, actual: reconstructed.count)
    }
    var signal = 0.0
    var noise = 0.0
    var largest = 0.0
    for (x, y) in zip(original, reconstructed) {
      let error = Double(x) - Double(y)
      signal += Double(x) * Double(x)
      noise += error * error
      largest = max(largest, error.magnitude)
    }
    self.init(elementCount: original.count, sumOfSquaredErrors: noise, sumOfSquares: signal, maxAbsoluteError: largest)
  }

  init(elementCount: Int, sumOfSquaredErrors noise: Double, sumOfSquares signal: Double, maxAbsoluteError: Double) {
    self.elementCount = elementCount
    sumOfSquaredErrors = noise
    sumOfSquares = signal
    meanSquaredError = noise / Double(max(elementCount, 1))
    self.maxAbsoluteError = maxAbsoluteError
    signalToNoiseDecibels = noise == 0 ? .infinity : 10 * log10(signal / noise)
  }

  /// The statistics of all elements of several tensors together (sums added, maxima taken).
  public static func combined(_ parts: [QuantizationErrorStatistics]) -> QuantizationErrorStatistics {
    QuantizationErrorStatistics(
      elementCount: parts.reduce(0) { $0 + $1.elementCount },
      sumOfSquaredErrors: parts.reduce(0) { $0 + $1.sumOfSquaredErrors },
      sumOfSquares: parts.reduce(0) { $0 + $1.sumOfSquares },
      maxAbsoluteError: parts.map(\.maxAbsoluteError).max() ?? 0)
  }

  /// The three 4-bit formats compared on one tensor, and the buffers NF4 quantization made.
  public struct FormatComparison: Sendable {
    public let rows: [(format: String, statistics: QuantizationErrorStatistics)]
    /// The bytes of the NF4 tensor's buffers, as the engine holds them.
    public let nf4Buffers: QuantizedBufferBytes
  }

  /// The three 4-bit formats compared: NF4 and FP4 (bitsandbytes, dequantized to float32) and
  /// round-to-nearest symmetric int4 with a float32 absmax per block, `q = round(x * 7 / absmax)`
  /// in -7...7 and `x' = q * absmax / 7` (ties to even; an all-zero block stays zero).
  ///
  /// - Throws: ``QuantizationError/nonFiniteValue(tensor:index:value:)`` for NaN or infinity,
  ///   ``QuantizationError/absmaxMeanOverflows(tensor:)`` when double quantization's mean
  ///   overflows (as the quantizer refuses them), or a block size bitsandbytes rejects.
  public static func compareFormats(
    _ values: [Float], blockSize: Int, doubleQuantization: Bool
  ) throws(QuantizationError) -> FormatComparison {
    let settings = try QuantizationSettings(blockSize: blockSize, doubleQuantization: doubleQuantization)
    guard !values.isEmpty else { throw .emptyTensor(shape: [0]) }
    return try values.withUnsafeBufferPointer { (values) throws(QuantizationError) in
      let chunkElements = max(1, WeightChunks.chunkBytes / (4 * blockSize)) * blockSize
      let source = FormatComparisonSource(name: "values", count: values.count, chunkElements: chunkElements) { index in
        UnsafeBufferPointer(rebasing: values[(index * chunkElements)..<min((index + 1) * chunkElements, values.count)])
      }
      do {
        return try source.compare(settings: settings, threads: 1)
      } catch let error as QuantizationError {
        throw error
      } catch {
        preconditionFailure("reading an array does not fail")
      }
    }
  }

  /// ``compareFormats(_:blockSize:doubleQuantization:)`` on the float32/float16/bfloat16 tensor
  /// `info` of `file`, read chunk by chunk (twice: once for the scales, once for the errors),
  /// so memory stays at a few chunks and the absmax values whatever the tensor's size.
  ///
  /// - Throws: as the array form, ``QuantizationError/unsupportedDType(_:)``, or a read error.
  public static func compareFormats(
    file: SafetensorsFile, tensor info: SafetensorsTensorInfo, blockSize: Int, doubleQuantization: Bool,
    threads: Int = 1
  ) throws -> FormatComparison {
    try compareFormats(
      file: file, tensor: info, blockSize: blockSize, doubleQuantization: doubleQuantization, threads: threads,
      chunkBytes: WeightChunks.chunkBytes)
  }

  /// The same in chunks of `chunkBytes` of input (smaller in tests, to cross many chunks).
  static func compareFormats(
    file: SafetensorsFile, tensor info: SafetensorsTensorInfo, blockSize: Int, doubleQuantization: Bool, threads: Int,
    chunkBytes: Int
  ) throws -> FormatComparison {
    let settings = try QuantizationSettings(blockSize: blockSize, doubleQuantization: doubleQuantization)
    guard info.elementCount > 0 else { throw QuantizationError.emptyTensor(shape: info.shape.map { Int($0) }) }
    func compare<T: FourBitScalar>(_: T.Type) throws -> FormatComparison {
      let chunks = WeightChunks(info, blockSize: blockSize, chunkBytes: chunkBytes)
      let raw = try ChunkBuffer(byteCount: chunks.chunkElements * chunks.elementSize, for: "reading")
      let widened = try ChunkBuffer(byteCount: chunks.chunkElements * 4, for: "reading")
      let source = FormatComparisonSource(name: info.name, count: chunks.count, chunkElements: chunks.chunkElements) {
        index in
        let (offset, count) = chunks.bytes(ofChunk: index)
        try file.read(info, offset: offset, into: UnsafeMutableRawBufferPointer(rebasing: raw.bytes[..<count]))
        let elements = count / chunks.elementSize
        let input = raw.bytes.baseAddress!.assumingMemoryBound(to: T.self)
        let output = widened.bytes.baseAddress!.assumingMemoryBound(to: Float.self)
        for i in 0..<elements { output[i] = input[i].floatValue }
        return UnsafeBufferPointer(start: output, count: elements)
      }
      return try source.compare(settings: settings, threads: threads)
    }
    switch info.dtype {
    case .f32: return try compare(Float.self)
    case .f16: return try compare(Float16.self)
    case .bf16: return try compare(BFloat16.self)
    default: throw QuantizationError.unsupportedDType(info.dtype.rawValue)
    }
  }

  /// Symmetric absmax int4 round trip (see ``compareFormats(_:blockSize:doubleQuantization:)``).
  ///
  /// - Throws: ``QuantizationError/invalidBlockSize(_:)`` for a block size below 1.
  public static func roundToNearestInt4(_ values: [Float], blockSize: Int) throws(QuantizationError) -> [Float] {
    guard blockSize >= 1 else { throw .invalidBlockSize(blockSize) }
    var result = [Float](repeating: 0, count: values.count)
    values.withUnsafeBufferPointer { values in
      result.withUnsafeMutableBufferPointer { result in
        for start in stride(from: 0, to: values.count, by: blockSize) {
          let end = min(start + blockSize, values.count)
          Int4RoundTrip.block(UnsafeBufferPointer(rebasing: values[start..<end]), into: result.baseAddress! + start)
        }
      }
    }
    return result
  }
}

/// Symmetric absmax int4, one block at a time.
enum Int4RoundTrip {
  /// `x' = q * absmax / 7` with `q = round(x * 7 / absmax)` clamped to -7...7, in float32; for
  /// an absmax so large that `7 * absmax` overflows float32 the same formula in float64, then
  /// rounded to float32, so the result stays finite.
  static func block(_ values: UnsafeBufferPointer<Float>, into out: UnsafeMutablePointer<Float>) {
    var absmax: Float = 0
    for x in values { absmax = max(absmax, x.magnitude) }
    guard absmax > 0 else {
      for i in values.indices { out[i] = 0 }
      return
    }
    if absmax <= Float.greatestFiniteMagnitude / 7 {
      for (i, x) in values.enumerated() {
        let q = min(7, max(-7, (x * 7 / absmax).rounded(.toNearestOrEven)))
        out[i] = q * absmax / 7
      }
    } else {
      let wide = Double(absmax)
      for (i, x) in values.enumerated() {
        let q = min(7, max(-7, (Double(x) * 7 / wide).rounded(.toNearestOrEven)))
        out[i] = Float(q * wide / 7)
      }
    }
  }
}

/// The running sums of ``QuantizationErrorStatistics``, element by element in order.
struct ErrorSums {
  var signal = 0.0
  var noise = 0.0
  var largest = 0.0
  var count = 0

  mutating func add(_ original: UnsafeBufferPointer<Float>, _ reconstructed: UnsafePointer<Float>) {
    for (i, x) in original.enumerated() {
      let error = Double(x) - Double(reconstructed[i])
      signal += Double(x) * Double(x)
      noise += error * error
      largest = max(largest, error.magnitude)
    }
    count += original.count
  }

  var statistics: QuantizationErrorStatistics {
    QuantizationErrorStatistics(
      elementCount: count, sumOfSquaredErrors: noise, sumOfSquares: signal, maxAbsoluteError: largest)
  }
}

/// A tensor as float32 chunks of whole blocks, compared in the three formats in two passes:
/// the first finds every block's absmax (NF4 and FP4; int4's errors are complete then), the
/// second quantizes each chunk again, dequantizes it with the final scales (after double
/// quantization) and sums the errors. Memory: a few chunks and the absmax values.
struct FormatComparisonSource {
  let name: String
  let count: Int
  let chunkElements: Int
  /// The float32 values of chunk `index` (valid until the next call).
  let chunk: (Int) throws -> UnsafeBufferPointer<Float>

  func compare(settings: QuantizationSettings, threads: Int) throws -> QuantizationErrorStatistics.FormatComparison {
    let blockSize = settings.blockSize
    let blockCount = (count - 1) / blockSize + 1
    let chunkCount = (count - 1) / chunkElements + 1
    let packed = try ChunkBuffer(byteCount: chunkElements / 2 + 1, for: "4-bit codes")
    let reconstructed = try ChunkBuffer(byteCount: chunkElements * 4, for: "dequantized values")
    let types = FourBitType.allCases
    var absmax = types.map { _ in [Float](repeating: 0, count: blockCount) }
    var sums = types.map { _ in ErrorSums() }
    var int4 = ErrorSums()
    let output = reconstructed.bytes.baseAddress!.assumingMemoryBound(to: Float.self)
    for pass in 0..<2 {
      for index in 0..<chunkCount {
        let values = try chunk(index)
        let firstBlock = index * chunkElements / blockSize
        for (k, type) in types.enumerated() {
          let plain = try QuantizationSettings(type: type, blockSize: blockSize, doubleQuantization: false)
          if pass == 0 {
            quantize(
              values, settings: plain, threads: threads, absmax: &absmax[k], firstBlock: firstBlock, packed: packed)
            continue
          }
          // The codes again (the absmax values are the same as in the first pass).
          var scratch = [Float](repeating: 0, count: (values.count - 1) / blockSize + 1)
          quantize(values, settings: plain, threads: threads, absmax: &scratch, firstBlock: 0, packed: packed)
          absmax[k].withUnsafeBufferPointer { scales in
            FourBitKernels.dequantize(
              packed.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: values.count, blockSize: blockSize,
              type: type,
              absmax: scales.baseAddress! + firstBlock, blocks: 0..<((values.count - 1) / blockSize + 1), into: output)
          }
          sums[k].add(values, output)
        }
        if pass == 0 {
          for start in stride(from: 0, to: values.count, by: blockSize) {
            Int4RoundTrip.block(
              UnsafeBufferPointer(rebasing: values[start..<min(start + blockSize, values.count)]), into: output + start)
          }
          int4.add(values, output)
        }
      }
      if pass == 0 {
        for k in types.indices {
          if let block = absmax[k].firstIndex(where: { !$0.isFinite }) {
            throw try nonFiniteError(block: block, blockSize: blockSize)
          }
          if settings.doubleQuantization {
            absmax[k] = try DoubleQuantizedAbsmax.refusingOverflow(absmax[k], threads: threads, tensor: name)
              .dequantized()
          }
        }
      }
    }
    let blocks = Int64(blockCount)
    let packedBytes = Int64(count / 2 + count % 2)
    let nf4Buffers =
      settings.doubleQuantization
      ? QuantizedBufferBytes(
        packed: packedBytes, absmax: blocks, nestedAbsmax: 4 * ((blocks + 255) / 256),
        nestedCode: 4 * Int64(DynamicMap.values.count), offset: 4, code: 4 * 16)
      : QuantizedBufferBytes(
        packed: packedBytes, absmax: 4 * blocks, nestedAbsmax: 0, nestedCode: 0, offset: 0, code: 4 * 16)
    let rows = zip(types, sums).map { ($0.rawValue, $1.statistics) } + [("int4", int4.statistics)]
    return .init(rows: rows, nf4Buffers: nf4Buffers)
  }

  /// The first non-finite element of `block`, read again, as the quantizer reports it.
  private func nonFiniteError(block: Int, blockSize: Int) throws -> QuantizationError {
    let start = block * blockSize
    let values = try chunk(start / chunkElements)
    let local = start % chunkElements
    let index = (local..<min(local + blockSize, values.count)).first { !values[$0].isFinite } ?? local
    return .nonFiniteValue(tensor: name, index: start - local + index, value: values[index])
  }

  private func quantize(
    _ values: UnsafeBufferPointer<Float>, settings: QuantizationSettings, threads: Int, absmax: inout [Float],
    firstBlock: Int,
    packed: ChunkBuffer
  ) {
    let blockCount = (values.count - 1) / settings.blockSize + 1
    absmax.withUnsafeMutableBufferPointer { absmax in
      let codes = UnsafeMutableBufferPointer(
        start: packed.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: packed.bytes.count)
      let (x, scales, out) = (SharedPointer(values), SharedPointer(absmax), SharedPointer(codes))
      let count = values.count
      FourBitKernels.forEachBlockRange(blockCount: blockCount, threads: threads) { blocks in
        FourBitKernels.quantize(
          x.base, count: count, settings: settings, blocks: blocks, absmax: scales.base + firstBlock, packed: out.base)
      }
    }
  }
}

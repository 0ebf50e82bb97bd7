import Foundation
import Safetensors

/// The tensors of one file read, quantized and written with the three stages overlapped: a
/// background read fetches the next chunk (``PrefetchingReader``) while the kernels quantize
/// the current one on every core, and a serial write queue writes the previous chunk's codes
/// and copies the tensors kept as they are. Buffers are allocated once per file and reused.
///
/// Memory: two input chunks, two chunks of codes, one copy buffer, and each weight's absmax
/// values (1/64 of its elements at blocks of 64): bounded by the chunk size, not the tensor.
///
/// Only the write queue touches ``output`` until ``drain()`` has returned; a write error stops
/// the writes that follow and is thrown by the next call on the quantizing thread.
final class QuantizationPipeline: @unchecked Sendable {
  static let copyBytes = 16 << 20

  let settings: QuantizationSettings
  let threads: Int
  /// Input bytes per chunk (``WeightChunks/chunkBytes``; smaller in tests).
  let chunkBytes: Int
  private let output: SafetensorsWriter
  private let reader: PrefetchingReader
  private let codes: [ChunkBuffer]
  private let copyBuffer: ChunkBuffer
  private let writes = DispatchQueue(label: "qlora-budget.quantize.write")
  /// Free buffers of codes: taken before a chunk is quantized, given back once it is written.
  private let freeCodes = DispatchSemaphore(value: 2)
  private var chunksQuantized = 0
  private let lock = NSLock()
  private var writeFailure: Error?

  /// Sets up the reads of every chunk of `weights` (the tensors of `file` to quantize, in order).
  init(
    file: SafetensorsFile, weights: [SafetensorsTensorInfo], settings: QuantizationSettings, threads: Int,
    chunkBytes: Int,
    output: SafetensorsWriter
  ) throws {
    self.settings = settings
    self.chunkBytes = chunkBytes
    self.threads = threads
    self.output = output
    var pieces: [PrefetchingReader.Piece] = []
    for info in weights {
      let chunks = WeightChunks(info, blockSize: settings.blockSize, chunkBytes: chunkBytes)
      for index in 0..<chunks.chunkCount {
        let (offset, count) = chunks.bytes(ofChunk: index)
        pieces.append(.init(file: file, info: info, offset: offset, count: count))
      }
    }
    reader = try PrefetchingReader(pieces)
    let largestChunk =
      weights.map { WeightChunks($0, blockSize: settings.blockSize, chunkBytes: chunkBytes).chunkElements }.max() ?? 0
    codes =
      largestChunk == 0
      ? [] : try (0..<2).map { _ in try ChunkBuffer(byteCount: largestChunk / 2 + 1, for: "4-bit codes") }
    copyBuffer = try ChunkBuffer(byteCount: Self.copyBytes, for: "copying tensors")
  }

  /// Quantizes the next weight chunk by chunk, its codes written as they are made; returns
  /// the entries that follow the codes (absmax, maps, the JSON state) and the weight's dtype.
  ///
  /// - Throws: ``QuantizationError/nonFiniteValue(tensor:index:value:)`` (found from each
  ///   chunk's absmax values), ``QuantizationError/absmaxMeanOverflows(tensor:)``, or the
  ///   first read or write error.
  func quantize(_ info: SafetensorsTensorInfo) throws -> (entries: [BnbCheckpointLayout.Entry], dtype: String) {
    switch info.dtype {
    case .f32: try quantize(info, as: Float.self)
    case .f16: try quantize(info, as: Float16.self)
    case .bf16: try quantize(info, as: BFloat16.self)
    default: throw QuantizationError.unsupportedDType(info.dtype.rawValue)
    }
  }

  private func quantize<T: FourBitScalar>(_ info: SafetensorsTensorInfo, as _: T.Type) throws -> (
    entries: [BnbCheckpointLayout.Entry], dtype: String
  ) {
    let chunks = WeightChunks(info, blockSize: settings.blockSize, chunkBytes: chunkBytes)
    let shape = info.shape.map { Int($0) }
    var absmax = [Float](repeating: 0, count: chunks.blockCount)
    for index in 0..<chunks.chunkCount {
      let input = try reader.next()
      try throwWriteFailure()
      let elements = chunks.elements(ofChunk: index)
      let firstBlock = elements.lowerBound / settings.blockSize
      let blockCount = (elements.count - 1) / settings.blockSize + 1
      freeCodes.wait()
      let target = codes[chunksQuantized % 2]
      chunksQuantized += 1
      let values = input.assumingMemoryBound(to: T.self)
      absmax.withUnsafeMutableBufferPointer { absmax in
        let packed = UnsafeMutableBufferPointer(
          start: target.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: target.bytes.count)
        let (x, scales, out) = (SharedPointer(values), SharedPointer(absmax), SharedPointer(packed))
        let settings = settings
        FourBitKernels.forEachBlockRange(blockCount: blockCount, threads: threads) { blocks in
          FourBitKernels.quantize(
            x.base, count: elements.count, settings: settings, blocks: blocks, absmax: scales.base + firstBlock,
            packed: out.base)
        }
      }
      // A block holding NaN or an infinity has a non-finite absmax: only that block is searched.
      if let block = absmax[firstBlock..<(firstBlock + blockCount)].firstIndex(where: { !$0.isFinite }) {
        freeCodes.signal()
        let local = (block - firstBlock) * settings.blockSize
        let index =
          (local..<min(local + settings.blockSize, elements.count)).first { !values[$0].floatValue.isFinite } ?? local
        throw QuantizationError.nonFiniteValue(
          tensor: info.name, index: elements.lowerBound + index, value: values[index].floatValue)
      }
      let written = UncheckedSendable(UnsafeRawBufferPointer(rebasing: target.bytes[..<((elements.count + 1) / 2)]))
      enqueue({ output in try output.append(info.name, bytes: written.value) }, then: { self.freeCodes.signal() })
    }
    let scales: BlockScales
    if settings.doubleQuantization {
      scales = .doubleQuantized(try DoubleQuantizedAbsmax.refusingOverflow(absmax, threads: threads, tensor: info.name))
    } else {
      scales = .float32(absmax)
    }
    let entries = BnbCheckpointLayout.stateEntries(
      weightName: info.name, settings: settings, shape: shape, scales: scales, dtype: T.dtypeName)
    return (entries, T.dtypeName)
  }

  /// Writes `entry` after what is queued.
  func write(_ entry: BnbCheckpointLayout.Entry) {
    enqueue { output in try output.write(entry.spec.name, bytes: entry.bytes) }
  }

  /// Copies the tensor `info` of `file` unchanged after what is queued.
  func copy(_ info: SafetensorsTensorInfo, from file: SafetensorsFile) {
    enqueue { output in try output.copy(info, from: file, through: self.copyBuffer.bytes) }
  }

  /// Waits for every queued write; throws the first write error.
  func drain() throws {
    writes.sync {}
    try throwWriteFailure()
  }

  /// Runs `body` on the write queue unless a write has failed, then `then` in any case.
  private func enqueue(
    _ body: @escaping @Sendable (SafetensorsWriter) throws -> Void, then: (@Sendable () -> Void)? = nil
  ) {
    let output = UncheckedSendable(output)
    writes.async {
      defer { then?() }
      self.lock.lock()
      let failed = self.writeFailure != nil
      self.lock.unlock()
      guard !failed else { return }
      do {
        try body(output.value)
      } catch {
        self.lock.lock()
        self.writeFailure = error
        self.lock.unlock()
      }
    }
  }

  private func throwWriteFailure() throws {
    lock.lock()
    let failure = writeFailure
    lock.unlock()
    if let failure { throw failure }
  }
}

/// A value handed to another thread, which alone uses it until it is done (the write queue of
/// ``QuantizationPipeline``, the background read of ``PrefetchingReader``).
struct UncheckedSendable<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}

import Foundation
import Safetensors

/// A weight cut into chunks of whole blocks, read into buffers that are reused: how the
/// checkpoint quantizer and the error measurement hold a tensor of any size in bounded memory.
///
/// A chunk is at most ``chunkBytes`` of input (at least one block), so only the last chunk can
/// end in a partial block, and the kernels' rule for it (divide, store the clamped absmax)
/// applies unchanged.
struct WeightChunks {
  /// Input bytes per chunk: large enough that a chunk's fixed costs vanish, small enough that
  /// two chunks in flight are far below a large weight (an MLP of an 8B model is 117 MB).
  static let chunkBytes = 32 << 20

  let info: SafetensorsTensorInfo
  let blockSize: Int
  /// Elements in the tensor.
  let count: Int
  let elementSize: Int
  /// Elements per chunk: a multiple of the block size.
  let chunkElements: Int

  init(_ info: SafetensorsTensorInfo, blockSize: Int, chunkBytes: Int = Self.chunkBytes) {
    self.info = info
    self.blockSize = blockSize
    count = Int(info.elementCount)
    elementSize = Int(info.dtype.byteSize)
    chunkElements = max(1, chunkBytes / (blockSize * elementSize)) * blockSize
  }

  var blockCount: Int { (count - 1) / blockSize + 1 }
  var chunkCount: Int { (count - 1) / chunkElements + 1 }

  /// The elements of chunk `index`.
  func elements(ofChunk index: Int) -> Range<Int> {
    (index * chunkElements)..<min((index + 1) * chunkElements, count)
  }

  /// The byte range of chunk `index` within the tensor.
  func bytes(ofChunk index: Int) -> (offset: Int64, count: Int) {
    let elements = elements(ofChunk: index)
    return (Int64(elements.lowerBound) * Int64(elementSize), elements.count * elementSize)
  }
}

/// Memory the engine allocates for a chunk: `malloc`, so a failure is an error rather than a
/// trap, aligned for every element type, freed with the owner.
final class ChunkBuffer: @unchecked Sendable {
  let bytes: UnsafeMutableRawBufferPointer

  /// - Throws: ``QuantizationError/cannotAllocate(bytes:for:)``.
  init(byteCount: Int, for purpose: String) throws(QuantizationError) {
    var pointer: UnsafeMutableRawPointer?
    guard byteCount > 0, posix_memalign(&pointer, 64, byteCount) == 0, let pointer else {
      throw .cannotAllocate(bytes: Int64(byteCount), for: purpose)
    }
    bytes = UnsafeMutableRawBufferPointer(start: pointer, count: byteCount)
  }

  deinit { free(bytes.baseAddress) }
}

/// Reads a sequence of tensor pieces, each into one of two buffers, the next one in the
/// background while the caller works on the current one.
final class PrefetchingReader: @unchecked Sendable {
  struct Piece {
    let file: SafetensorsFile
    let info: SafetensorsTensorInfo
    let offset: Int64
    let count: Int
  }

  private let pieces: [Piece]
  private let buffers: [ChunkBuffer]
  private var position = 0
  private let pending = DispatchGroup()
  private var failure: SafetensorsError?

  /// - Throws: ``QuantizationError/cannotAllocate(bytes:for:)``.
  init(_ pieces: [Piece]) throws(QuantizationError) {
    self.pieces = pieces
    let largest = pieces.map(\.count).max() ?? 0
    buffers =
      largest == 0
      ? [] : [try ChunkBuffer(byteCount: largest, for: "reading"), try ChunkBuffer(byteCount: largest, for: "reading")]
    if !pieces.isEmpty { start(0) }
  }

  deinit { pending.wait() }

  /// The next piece's bytes, valid until the call after next (the other buffer is being read).
  func next() throws(SafetensorsError) -> UnsafeRawBufferPointer {
    pending.wait()
    if let failure { throw failure }
    let index = position
    position += 1
    if position < pieces.count { start(position) }
    return UnsafeRawBufferPointer(rebasing: buffers[index % 2].bytes[..<pieces[index].count])
  }

  private func start(_ index: Int) {
    let piece = pieces[index]
    let target = UncheckedSendable(UnsafeMutableRawBufferPointer(rebasing: buffers[index % 2].bytes[..<piece.count]))
    DispatchQueue.global().async(group: pending) {
      do throws(SafetensorsError) {
        try piece.file.read(piece.info, offset: piece.offset, into: target.value)
      } catch {
        self.failure = error
      }
    }
  }
}

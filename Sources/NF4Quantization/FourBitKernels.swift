import Dispatch

/// The fast quantize and dequantize loops, shaped like the storage: block -> 16 elements ->
/// 8 bytes -> two nibbles, the scale hoisted per block, no per-element branch.
///
/// Pointers stay inside these functions; callers own the buffers. Full blocks use 16-lane SIMD
/// (every valid block size is a multiple of 16); the one partial last block, if any, takes the
/// scalar path, dividing by its absmax as bitsandbytes does there.
enum FourBitKernels {
  /// bitsandbytes clamps the absmax to at least 1e-38 before scaling (`absmax.clamp(min=1e-38)`).
  static let smallestScale: Float = 1e-38

  /// Quantizes blocks `blocks` of `x` (`count` elements) into `absmax` and `packed`.
  ///
  /// A full block with a finite absmax takes the lookup path (``FourBitLookup``); a block
  /// holding NaN or an infinity takes the comparison path, and the partial last block the
  /// scalar one (it divides).
  ///
  /// Specialized for the three element types: callers in other modules reach it through the
  /// generic public initializers, which would otherwise call `widen16` through the protocol.
  @_specialize(where T == Float)
  @_specialize(where T == BFloat16)
  @_specialize(where T == Float16)
  static func quantize<T: FourBitScalar>(
    _ x: UnsafePointer<T>, count: Int, settings: QuantizationSettings, blocks: Range<Int>,
    absmax: UnsafeMutablePointer<Float>, packed: UnsafeMutablePointer<UInt8>
  ) {
    let blockSize = settings.blockSize
    let fullBlocks = count / blockSize
    let encoder = FourBitEncoder(settings.type)
    FourBitLookup.table(for: settings.type).withUnsafeBufferPointer { table in
      let lookup = FourBitLookup(cells: table.baseAddress!)
      for block in blocks {
        let start = block * blockSize
        guard block < fullBlocks else {
          absmax[block] = encodePartialBlock(
            x + start, count: count - start, encoder: encoder, into: packed + start / 2)
          encoder.remapCodes(packed + start / 2, byteCount: (count - start + 1) / 2)
          continue
        }
        let a = blockAbsmax(x + start, blockSize: blockSize)
        absmax[block] = a
        let inverse = 1 / (a < smallestScale ? smallestScale : a)
        if a.isFinite {
          lookup.encodeFullBlock(
            x + start, blockSize: blockSize, inverse: inverse, encoder: encoder, into: packed + start / 2)
        } else {
          encodeFullBlock(x + start, blockSize: blockSize, inverse: inverse, encoder: encoder, into: packed + start / 2)
          encoder.remapCodes(packed + start / 2, byteCount: blockSize / 2)
        }
      }
    }
  }

  /// max |x| over a full block; NaN if the block holds a NaN (torch's `max` propagates NaN).
  ///
  /// On the magnitude bits as integers: with the sign cleared, a float's bits order like its
  /// magnitude and every NaN is above infinity (0x7F80_0000), so one integer maximum gives
  /// both the absmax and whether a NaN was seen. The lanes are reduced by halves.
  @inline(__always)
  static func blockAbsmax<T: FourBitScalar>(_ x: UnsafePointer<T>, blockSize: Int) -> Float {
    var largest = SIMD16<Int32>.zero
    for offset in stride(from: 0, to: blockSize, by: 16) {
      let magnitude = unsafeBitCast(T.widen16(x + offset), to: SIMD16<Int32>.self) & 0x7FFF_FFFF
      largest.replace(with: magnitude, where: magnitude .> largest)
    }
    var eight = largest.lowHalf
    eight.replace(with: largest.highHalf, where: largest.highHalf .> eight)
    var four = eight.lowHalf
    four.replace(with: eight.highHalf, where: eight.highHalf .> four)
    let bits = max(max(four[0], four[1]), max(four[2], four[3]))
    return bits > 0x7F80_0000 ? .nan : Float(bitPattern: UInt32(bits))
  }

  /// Buckets of a full block by comparisons (the exact path): 16 elements scaled by `inverse`,
  /// bucketed, packed into 8 bytes; ``FourBitEncoder/remapCodes(_:byteCount:)`` turns them
  /// into codes.
  @inline(__always)
  static func encodeFullBlock<T: FourBitScalar>(
    _ x: UnsafePointer<T>, blockSize: Int, inverse: Float, encoder: FourBitEncoder,
    into out: UnsafeMutablePointer<UInt8>
  ) {
    let scale = SIMD16<Float>(repeating: inverse)
    for offset in stride(from: 0, to: blockSize, by: 16) {
      let buckets = encoder.buckets(T.widen16(x + offset) * scale)
      let bytes = SIMD8<UInt8>(truncatingIfNeeded: (buckets.evenHalf &<< 4) | buckets.oddHalf)
      UnsafeMutableRawPointer(out + offset / 2).storeBytes(of: bytes, as: SIMD8<UInt8>.self)
    }
  }

  /// Codes of the partial last block (`count` < blockSize elements): `x / max(absmax, 1e-38)`,
  /// an odd count padded with 0.0. Returns the stored absmax (clamped, as bitsandbytes stores it).
  static func encodePartialBlock<T: FourBitScalar>(
    _ x: UnsafePointer<T>, count: Int, encoder: FourBitEncoder, into out: UnsafeMutablePointer<UInt8>
  ) -> Float {
    var a: Float = 0
    for i in 0..<count {
      let magnitude = x[i].floatValue.magnitude
      if magnitude > a || magnitude.isNaN { a = magnitude }
      if a.isNaN { break }
    }
    let divisor = a < smallestScale ? smallestScale : a
    func bucket(_ i: Int) -> UInt8 { i < count ? encoder.bucket(x[i].floatValue / divisor) : encoder.bucket(0) }
    for pair in 0..<((count + 1) / 2) {
      out[pair] = bucket(2 * pair) << 4 | bucket(2 * pair + 1)
    }
    return divisor
  }

  /// Dequantizes blocks `blocks`: `T(codebook[q] * absmax[block])`.
  ///
  /// Full blocks: 8 bytes -> the 16 code values (a 256-entry table of code pairs) -> one
  /// multiply by the block's absmax -> 16 rounded stores. The product is the same float32
  /// multiply as the reference, so the results are identical. The partial last block goes
  /// element by element.
  @_specialize(where T == Float)
  @_specialize(where T == BFloat16)
  @_specialize(where T == Float16)
  static func dequantize<T: FourBitScalar>(
    _ packed: UnsafePointer<UInt8>, count: Int, blockSize: Int, type: FourBitType,
    absmax: UnsafePointer<Float>, blocks: Range<Int>, into out: UnsafeMutablePointer<T>
  ) {
    let pairs = type.codePairs
    let codebook = type.codebook
    pairs.withUnsafeBufferPointer { pairs in
      for block in blocks {
        let start = block * blockSize
        let a = absmax[block]
        guard start + blockSize <= count else {
          for i in start..<count {
            let byte = packed[i / 2]
            (out + i).initialize(to: T(roundingFloat: codebook[Int(i % 2 == 0 ? byte >> 4 : byte & 15)] * a))
          }
          continue
        }
        let scale = SIMD16<Float>(repeating: a)
        for offset in stride(from: start, to: start + blockSize, by: 16) {
          let bytes = UnsafeRawPointer(packed + offset / 2).loadUnaligned(as: SIMD8<UInt8>.self)
          var values = SIMD16<Float>()
          for k in 0..<8 {
            let pair = pairs[Int(bytes[k])]
            values[2 * k] = pair.x
            values[2 * k + 1] = pair.y
          }
          T.narrow16(values * scale, to: out + offset)
        }
      }
    }
  }

  /// Runs `body` over `blockCount` blocks split into contiguous ranges on `threads` threads.
  ///
  /// Each range writes its own blocks' bytes, so the ranges never share an output byte
  /// (block sizes are even).
  static func forEachBlockRange(blockCount: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
    let chunks = min(blockCount, max(1, threads) * 4)
    guard threads > 1, chunks > 1 else { return body(0..<blockCount) }
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
      body((blockCount * chunk / chunks)..<(blockCount * (chunk + 1) / chunks))
    }
  }
}

/// A 4-bit type's thresholds and code order, laid out for the kernels.
struct FourBitEncoder {
  /// The 15 thresholds broadcast to 16 lanes each.
  let thresholds: [SIMD16<Float>]
  let scalarThresholds: [Float]
  /// `codesByValue` applied to both nibbles of a byte; `nil` for NF4, whose order is the identity.
  let byteRemap: [UInt8]?

  init(_ type: FourBitType) {
    scalarThresholds = type.thresholds
    thresholds = scalarThresholds.map { SIMD16<Float>(repeating: $0) }
    let order = type.codesByValue
    byteRemap =
      order == Array(0..<16)
      ? nil : (0..<256).map { order[$0 >> 4] << 4 | order[$0 & 15] }
  }

  /// Bucket of each lane: the number of thresholds `t` with `!(t >= x)` (NaN -> 15).
  @inline(__always)
  func buckets(_ x: SIMD16<Float>) -> SIMD16<Int32> {
    var count = SIMD16<Int32>.zero
    thresholds.withUnsafeBufferPointer { t in
      for k in 0..<15 {
        count &-= unsafeBitCast(.!(t[k] .>= x), to: SIMD16<Int32>.self)
      }
    }
    return count
  }

  /// The bucket of one value (same rule as ``buckets(_:)``).
  @inline(__always)
  func bucket(_ x: Float) -> UInt8 {
    var count: UInt8 = 0
    for t in scalarThresholds where !(t >= x) { count += 1 }
    return count
  }

  /// The 8 code bytes of 16 scaled values by comparisons (the exact path).
  @inline(__always)
  func codeBytes(_ z: SIMD16<Float>) -> UInt64 {
    let buckets = buckets(z)
    let bytes = SIMD8<UInt8>(truncatingIfNeeded: (buckets.evenHalf &<< 4) | buckets.oddHalf)
    var word = unsafeBitCast(bytes, to: UInt64.self)
    if let byteRemap {
      var remapped: UInt64 = 0
      for k in 0..<8 { remapped |= UInt64(byteRemap[Int(truncatingIfNeeded: word >> (8 * k)) & 0xFF]) << (8 * k) }
      word = remapped
    }
    return word
  }

  /// Turns buckets into codes in place (FP4 only).
  @inline(__always)
  func remapCodes(_ bytes: UnsafeMutablePointer<UInt8>, byteCount: Int) {
    guard let byteRemap else { return }
    for i in 0..<byteCount { bytes[i] = byteRemap[Int(bytes[i])] }
  }
}

/// A pointer handed to the threads of ``FourBitKernels/forEachBlockRange(blockCount:threads:_:)``.
///
/// Safe because the buffer outlives the call and every thread touches only its own blocks.
struct SharedPointer<Pointee>: @unchecked Sendable {
  let base: UnsafeMutablePointer<Pointee>
  init(_ buffer: UnsafeMutableBufferPointer<Pointee>) { base = buffer.baseAddress! }
  init(_ buffer: UnsafeBufferPointer<Pointee>) { base = UnsafeMutablePointer(mutating: buffer.baseAddress!) }
}

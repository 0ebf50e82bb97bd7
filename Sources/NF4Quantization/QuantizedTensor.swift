/// The scales of a 4-bit tensor's blocks: float32 absmax, or its double-quantized form.
public enum BlockScales: Hashable, Sendable {
  /// One float32 absmax per block.
  case float32([Float])
  /// One 8-bit code per block plus nested scales and an offset.
  case doubleQuantized(DoubleQuantizedAbsmax)

  /// The number of blocks these scales cover.
  public var blockCount: Int {
    switch self {
    case .float32(let absmax): absmax.count
    case .doubleQuantized(let state): state.codes.count
    }
  }

  /// The float32 absmax of every block, as dequantization uses it.
  public func absmax() -> [Float] {
    switch self {
    case .float32(let absmax): absmax
    case .doubleQuantized(let state): state.dequantized()
    }
  }
}

/// A tensor quantized to 4 bits in bitsandbytes' layout; it owns its buffers.
///
/// **Memory layout.** The row-major flattened tensor of `count` elements is cut into
/// `blockCount = ceil(count / blockSize)` blocks. ``packed`` holds two codes a byte, element `2i`
/// in the high nibble of byte `i` and element `2i + 1` in the low nibble; an odd count pads the
/// last low nibble with the code of 0.0. Block `b` has absmax `a[b] = max |x|` over its elements
/// and code `q` of element `i` stands for `type.codebook[q] * a[i / blockSize]`.
///
/// Quantize with ``init(quantizing:shape:settings:threads:)`` (the fast kernels) or
/// ``reference(quantizing:shape:settings:)`` (the plain definition; the two are tested equal),
/// dequantize with ``dequantized(as:threads:)``. ``bufferBytes`` gives each buffer's exact size.
public struct QuantizedTensor: Hashable, Sendable {
  public let settings: QuantizationSettings
  /// The original shape; the element count is its product.
  public let shape: [Int]
  /// The number of elements.
  public let count: Int
  /// `ceil(count / 2)` bytes of codes, even element in the high nibble.
  public let packed: [UInt8]
  /// The per-block scales.
  public let scales: BlockScales

  public var type: FourBitType { settings.type }
  public var blockSize: Int { settings.blockSize }
  public var blockCount: Int { scales.blockCount }

  /// A tensor from stored buffers (as read from a checkpoint), validated against each other;
  /// double quantization is on when `scales` is ``BlockScales/doubleQuantized(_:)``.
  ///
  /// - Throws: ``QuantizationError`` for a block size bitsandbytes rejects, an invalid shape, or
  ///   a buffer of the wrong size.
  public init(
    type: FourBitType, blockSize: Int, shape: [Int], packed: [UInt8], scales: BlockScales
  ) throws(QuantizationError) {
    let isDoubleQuantized = if case .doubleQuantized = scales { true } else { false }
    let settings = try QuantizationSettings(
      type: type, blockSize: blockSize, doubleQuantization: isDoubleQuantized)
    let count = try checkedElementCount(shape)
    guard count > 0 else { throw .emptyTensor(shape: shape) }
    let packedBytes = count / 2 + count % 2
    guard packed.count == packedBytes else {
      throw .bufferCountMismatch(buffer: "weight", expected: packedBytes, actual: packed.count)
    }
    let blocks = (count - 1) / blockSize + 1
    guard scales.blockCount == blocks else {
      throw .bufferCountMismatch(buffer: "absmax", expected: blocks, actual: scales.blockCount)
    }
    self.init(unchecked: settings, shape: shape, count: count, packed: packed, scales: scales)
  }

  init(unchecked settings: QuantizationSettings, shape: [Int], count: Int, packed: [UInt8], scales: BlockScales) {
    self.settings = settings
    self.shape = shape
    self.count = count
    self.packed = packed
    self.scales = scales
  }

  /// The exact bytes of every buffer this tensor holds, as bitsandbytes allocates them.
  public var bufferBytes: QuantizedBufferBytes {
    switch scales {
    case .float32(let absmax):
      QuantizedBufferBytes(
        packed: Int64(packed.count), absmax: 4 * Int64(absmax.count), nestedAbsmax: 0,
        nestedCode: 0, offset: 0, code: 4 * Int64(type.codebook.count))
    case .doubleQuantized(let state):
      QuantizedBufferBytes(
        packed: Int64(packed.count), absmax: Int64(state.codes.count),
        nestedAbsmax: 4 * Int64(state.nestedAbsmax.count),
        nestedCode: 4 * Int64(DynamicMap.values.count), offset: 4,
        code: 4 * Int64(type.codebook.count))
    }
  }
}

/// The bytes of each buffer of a ``QuantizedTensor`` (float32 values are 4 bytes each).
///
/// | buffer | without double quantization | with it |
/// | --- | --- | --- |
/// | packed | ceil(n / 2) | ceil(n / 2) |
/// | absmax | 4 * nb | nb (uint8) |
/// | nestedAbsmax | 0 | 4 * ceil(nb / 256) |
/// | nestedCode | 0 | 1024 (the 256-entry dynamic map) |
/// | offset | 0 | 4 |
/// | code | 64 (the 16-entry 4-bit code) | 64 |
public struct QuantizedBufferBytes: Hashable, Sendable {
  public let packed: Int64
  public let absmax: Int64
  public let nestedAbsmax: Int64
  public let nestedCode: Int64
  public let offset: Int64
  public let code: Int64

  /// Everything but the packed codes.
  public var quantState: Int64 { absmax + nestedAbsmax + nestedCode + offset + code }
  /// All buffers.
  public var total: Int64 { packed + quantState }
}

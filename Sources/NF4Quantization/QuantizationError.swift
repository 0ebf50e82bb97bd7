/// A problem with user-supplied quantization input: settings, shapes, stored state.
///
/// Each case carries the offending value; ``description`` is one line naming the field.
public enum QuantizationError: Error, Equatable, CustomStringConvertible {
  /// bitsandbytes accepts only the block sizes 32, 64, 128, 256, 512, 1024, 2048 and 4096.
  case invalidBlockSize(Int)
  /// A dimension below zero.
  case negativeDimension(shape: [Int])
  /// The product of the dimensions does not fit in `Int`.
  case elementCountOverflow(shape: [Int])
  /// A tensor of zero elements has no blocks to quantize.
  case emptyTensor(shape: [Int])
  /// The number of values given does not match the shape.
  case countMismatch(shape: [Int], expected: Int, actual: Int)
  /// A stored buffer of quantization state has the wrong number of elements.
  case bufferCountMismatch(buffer: String, expected: Int, actual: Int)
  /// A stored codebook is not the one this engine implements.
  case unknownCodebook(buffer: String)
  /// A quantization type name other than `nf4` or `fp4`.
  case unknownQuantType(String)
  /// An element type other than float32, float16 and bfloat16.
  case unsupportedDType(String)
  /// A weight holds NaN or an infinity: refused rather than stored as NaN scales.
  case nonFiniteValue(tensor: String, index: Int, value: Float)
  /// The input already holds bitsandbytes 4-bit state.
  case alreadyQuantized(tensor: String)
  /// Double quantization's mean of the absmax values overflows float32.
  case absmaxMeanOverflows(tensor: String)
  /// The memory a step needs could not be allocated.
  case cannotAllocate(bytes: Int64, for: String)

  public var description: String { described(remedy: \.description) }

  /// The description with `remedy` wording what the user can change (the CLI names its flag).
  public func described(remedy: (QuantizationRemedy) -> String) -> String {
    switch self {
    case .invalidBlockSize(let size):
      "Invalid block size '\(size)': bitsandbytes accepts 32, 64, 128, 256, 512, 1024, 2048, 4096."
    case .negativeDimension(let shape):
      "Invalid shape \(shape): a dimension is negative."
    case .elementCountOverflow(let shape):
      "Invalid shape \(shape): the element count overflows a 64-bit integer."
    case .emptyTensor(let shape):
      "Cannot quantize the empty tensor of shape \(shape)."
    case .countMismatch(let shape, let expected, let actual):
      "Shape \(shape) holds \(expected) elements but \(actual) values were given."
    case .bufferCountMismatch(let buffer, let expected, let actual):
      "Quantization state '\(buffer)' has \(actual) elements; expected \(expected)."
    case .unknownCodebook(let buffer):
      "Quantization state '\(buffer)' is not the codebook bitsandbytes uses."
    case .unknownQuantType(let name):
      "Unknown 4-bit type '\(name)': expected 'nf4' or 'fp4'."
    case .unsupportedDType(let name):
      "Unsupported element type '\(name)': expected float32, float16 or bfloat16."
    case .nonFiniteValue(let tensor, let index, let value):
      "Tensor '\(tensor)': element \(index) is \(value); NaN and infinity cannot be quantized."
    case .alreadyQuantized(let tensor):
      "The input is already quantized: tensor '\(tensor)' is bitsandbytes 4-bit state."
    case .absmaxMeanOverflows(let tensor):
      "Tensor '\(tensor)': its block absmax values are too large for double quantization (their float32 mean overflows); \(remedy(.withoutDoubleQuantization))."
    case .cannotAllocate(let bytes, let purpose):
      "Cannot allocate \(bytes) bytes for \(purpose)."
    }
  }
}

/// A change of settings that avoids a ``QuantizationError``; a library names no command-line flag,
/// so callers word it (``QuantizationError/described(remedy:)``).
public enum QuantizationRemedy: Hashable, Sendable, CustomStringConvertible {
  /// Quantize without double quantization.
  case withoutDoubleQuantization

  public var description: String {
    switch self {
    case .withoutDoubleQuantization: "quantize without double quantization"
    }
  }
}

/// The settings of a 4-bit quantization, validated.
public struct QuantizationSettings: Hashable, Sendable {
  /// The block sizes bitsandbytes accepts (`functional.quantize_4bit`).
  public static let validBlockSizes = [32, 64, 128, 256, 512, 1024, 2048, 4096]

  public let type: FourBitType
  /// Elements per block, each block with its own absmax.
  public let blockSize: Int
  /// Whether the per-block absmax values are themselves quantized to 8 bits (QLoRA's DQ).
  public let doubleQuantization: Bool

  /// Validated settings; the defaults are those of QLoRA (NF4, blocks of 64, DQ).
  ///
  /// - Throws: ``QuantizationError/invalidBlockSize(_:)`` for a block size bitsandbytes rejects.
  public init(
    type: FourBitType = .nf4, blockSize: Int = 64, doubleQuantization: Bool = true
  ) throws(QuantizationError) {
    guard Self.validBlockSizes.contains(blockSize) else {
      throw .invalidBlockSize(blockSize)
    }
    self.type = type
    self.blockSize = blockSize
    self.doubleQuantization = doubleQuantization
  }
}

/// The element count of `shape`, checked: no negative dimension, no overflow.
func checkedElementCount(_ shape: [Int]) throws(QuantizationError) -> Int {
  guard shape.allSatisfy({ $0 >= 0 }) else { throw .negativeDimension(shape: shape) }
  var count = 1
  for dimension in shape {
    let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
    guard !overflow else { throw .elementCountOverflow(shape: shape) }
    count = product
  }
  return count
}

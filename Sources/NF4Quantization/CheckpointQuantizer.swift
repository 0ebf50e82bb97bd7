import Foundation
import Safetensors

/// Quantizes a safetensors checkpoint into bitsandbytes' 4-bit layout, tensor by tensor.
///
/// Every 2-D float32/float16/bfloat16 tensor named `*.weight` is quantized, except embeddings
/// and the output head (transformers keeps those unquantized: `get_keys_to_not_convert`);
/// every other tensor is copied unchanged, and the input's `__metadata__` is kept.
///
/// Memory stays near the largest tensor: one tensor's bytes and its quantized buffers are held
/// at a time. The header is written before any data, and with double quantization the
/// quant-state JSON holds the offset (a mean over the data), so each quantized tensor is read
/// and quantized twice: once to size the header, once to write it.
public struct CheckpointQuantizer: Sendable {
  public let settings: QuantizationSettings
  /// Threads for each tensor's quantization.
  public let threads: Int

  public init(settings: QuantizationSettings, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
    self.settings = settings
    self.threads = threads
  }

  /// What a run did.
  public struct Report: Hashable, Sendable {
    /// Names of the weights quantized.
    public var quantized: [String] = []
    /// Names of the tensors copied unchanged.
    public var copied: [String] = []
  }

  /// Whether bitsandbytes (through transformers) would quantize this tensor.
  public static func quantizes(_ info: SafetensorsTensorInfo) -> Bool {
    info.name.hasSuffix(".weight") && info.shape.count == 2 && info.elementCount > 0
      && [.f32, .f16, .bf16].contains(info.dtype)
      && !CheckpointTensorNames.isEmbedding(info.name) && !CheckpointTensorNames.isOutputHead(info.name)
  }

  /// Reads `input` and writes the quantized checkpoint to `output`.
  ///
  /// - Throws: ``SafetensorsError`` for an unreadable input or unwritable output,
  ///   ``QuantizationError`` if a tensor cannot be quantized.
  @discardableResult
  public func quantize(input: URL, output: URL) throws -> Report {
    let file = try SafetensorsFile(url: input)
    var specs: [SafetensorsTensorSpec] = []
    var report = Report()
    for info in file.header.tensors {
      if Self.quantizes(info) {
        specs += try entries(info, file).map(\.spec)
        report.quantized.append(info.name)
      } else {
        specs.append(SafetensorsTensorSpec(name: info.name, dtype: info.dtype, shape: info.shape))
        report.copied.append(info.name)
      }
    }
    let writer = try SafetensorsWriter(url: output, tensors: specs, metadata: file.header.metadata)
    for info in file.header.tensors {
      if Self.quantizes(info) {
        for entry in try entries(info, file) { try writer.write(entry.spec.name, bytes: entry.bytes) }
      } else {
        try writer.write(info.name, bytes: file.data(for: info))
      }
    }
    try writer.finish()
    return report
  }

  /// The bitsandbytes entries of one weight.
  private func entries(_ info: SafetensorsTensorInfo, _ file: SafetensorsFile) throws -> [BnbCheckpointLayout.Entry] {
    let (tensor, dtype) = try Self.quantize(file.data(for: info), info: info, settings: settings, threads: threads)
    return BnbCheckpointLayout.entries(weightName: info.name, tensor: tensor, dtype: dtype)
  }

  /// Quantizes the raw little-endian bytes of a float32/float16/bfloat16 tensor.
  ///
  /// - Returns: the tensor and its PyTorch dtype name.
  public static func quantize(
    _ data: Data, info: SafetensorsTensorInfo, settings: QuantizationSettings, threads: Int = 1
  ) throws -> (QuantizedTensor, String) {
    let shape = info.shape.map { Int($0) }
    func run<T: FourBitScalar>(_: T.Type) throws -> (QuantizedTensor, String) {
      let tensor = try withElements(of: data, as: T.self) { values in
        try QuantizedTensor(quantizing: values, shape: shape, settings: settings, threads: threads)
      }
      return (tensor, T.dtypeName)
    }
    switch info.dtype {
    case .f32: return try run(Float.self)
    case .f16: return try run(Float16.self)
    case .bf16: return try run(BFloat16.self)
    default: throw QuantizationError.unsupportedDType(info.dtype.rawValue)
    }
  }

  /// The raw little-endian bytes of a float32/float16/bfloat16 tensor, widened exactly to float32.
  public static func floatValues(_ data: Data, dtype: SafetensorsDType) throws -> [Float] {
    func widen<T: FourBitScalar>(_: T.Type) throws -> [Float] {
      try withElements(of: data, as: T.self) { $0.map(\.floatValue) }
    }
    switch dtype {
    case .f32: return try widen(Float.self)
    case .f16: return try widen(Float16.self)
    case .bf16: return try widen(BFloat16.self)
    default: throw QuantizationError.unsupportedDType(dtype.rawValue)
    }
  }
}

/// Runs `body` on `data` viewed as elements of `T` (little-endian host), copying only if the
/// bytes are not aligned for `T`.
func withElements<T, R>(of data: Data, as _: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) throws -> R {
  try data.withUnsafeBytes { raw in
    let count = raw.count / MemoryLayout<T>.stride
    if let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<T>.alignment == 0 {
      return try body(UnsafeBufferPointer(start: base.assumingMemoryBound(to: T.self), count: count))
    }
    let copy = (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.stride, as: T.self) }
    return try copy.withUnsafeBufferPointer(body)
  }
}

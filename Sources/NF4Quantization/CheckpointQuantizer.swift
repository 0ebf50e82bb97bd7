import Foundation
import Safetensors

/// Quantizes a safetensors checkpoint (one file, or a sharded model folder) into bitsandbytes'
/// 4-bit layout, tensor by tensor.
///
/// Every 2-D float32/float16/bfloat16 tensor named `*.weight` is quantized, except those
/// transformers keeps unquantized: embeddings, the output head (`get_keys_to_not_convert`) and
/// MoE routers (``CheckpointTensorNames/isRouter(_:)``); norms and biases are 1-D. Every other
/// tensor is copied unchanged, and each file's `__metadata__` is kept.
///
/// **Refused values.** A weight holding NaN or ±infinity is refused with an error naming the
/// tensor and the element (bitsandbytes would store NaN scales, and with double quantization
/// a `nan` offset that no JSON reader accepts); so is a weight whose absmax values are too large
/// for the float32 mean double quantization needs. The output is therefore always valid.
///
/// **Memory** stays near the largest tensor: one tensor's input bytes and its quantized buffers
/// (about 1.3x the input bytes of a bf16 weight) are held at a time. Each tensor is read once;
/// the quant-state JSON (whose offset is a mean over the data) goes at the end of the file and
/// the header is written last (``SafetensorsWriter``).
///
/// **Safety.** Output files go through ``AtomicFileWriter`` (a folder through ``StagingFolder``):
/// nothing is replaced until the whole output is written and read back; an input is never
/// written, whatever links lead to it.
public struct CheckpointQuantizer: Sendable {
  public let settings: QuantizationSettings
  /// Threads for each tensor's quantization.
  public let threads: Int
  /// Input bytes per chunk of a weight (``WeightChunks/chunkBytes``; smaller in tests).
  var chunkBytes = WeightChunks.chunkBytes
  /// Called after each tensor (from the calling thread).
  public var progress: (@Sendable (QuantizationProgress) -> Void)?

  public init(settings: QuantizationSettings, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
    self.settings = settings
    self.threads = max(1, threads)
  }

  /// What a run did.
  public struct Report: Hashable, Sendable {
    /// Names of the weights quantized.
    public var quantized: [String] = []
    /// Names of the tensors copied unchanged.
    public var copied: [String] = []
    /// 2-D float weights kept unquantized (output head, routers): their module names, which the
    /// `quantization_config` lists as `llm_int8_skip_modules`.
    public var keptModules: [String] = []
    /// The files written, in order (shards, index, config.json, copied files).
    public var files: [String] = []
    /// Files of the input folder not copied, with the reason.
    public var skippedFiles: [String] = []
    /// Bytes of tensor data read and written.
    public var inputBytes: Int64 = 0
    public var outputBytes: Int64 = 0
    /// The PyTorch dtype name of the quantized weights (the most common one).
    public var computeDtype: String?
  }

  /// Whether bitsandbytes (through transformers) would quantize this tensor.
  public static func quantizes(_ info: SafetensorsTensorInfo) -> Bool {
    info.name.hasSuffix(".weight") && info.shape.count == 2 && info.elementCount > 0
      && [.f32, .f16, .bf16].contains(info.dtype)
      && !CheckpointTensorNames.isEmbedding(info.name) && !CheckpointTensorNames.isOutputHead(info.name)
      && !CheckpointTensorNames.isRouter(info.name)
  }

  /// Reads `input` (a file or a model folder) and writes the quantized checkpoint to `output`
  /// (a file for a file, a folder for a folder: see ``ModelFolderQuantization``).
  ///
  /// - Parameters:
  ///   - replacingExisting: replace an existing output; without it an existing output is
  ///     refused. An output that is (or holds) the input is refused either way.
  /// - Throws: ``SafetensorsError`` for an unreadable input or unwritable output,
  ///   ``QuantizationError`` if a tensor cannot be quantized.
  @discardableResult
  public func quantize(input: URL, output: URL, replacingExisting: Bool = false) throws -> Report {
    let checkpoint = try CheckpointFolder(path: input)
    if checkpoint.folder != nil {
      return try ModelFolderQuantization(quantizer: self, checkpoint: checkpoint)
        .run(output: output, replacingExisting: replacingExisting)
    }
    let file = checkpoint.shards[0]
    let writer: AtomicFileWriter
    do {
      writer = try AtomicFileWriter(path: output.path, replacingExisting: replacingExisting, protecting: checkpoint.inputIdentities)
    } catch {
      throw SafetensorsError.file(error)
    }
    var report = Report()
    var tracker = ProgressTracker(tensorCount: file.header.tensors.count, totalBytes: file.header.tensors.reduce(0) { $0 + $1.byteCount })
    try quantizeFile(file, into: writer, report: &report, tracker: &tracker)
    report.files = [writer.destination]
    return report
  }

  /// Quantizes the tensors of `file` into `writer` (which it commits).
  func quantizeFile(
    _ file: SafetensorsFile, into writer: AtomicFileWriter, report: inout Report, tracker: inout ProgressTracker
  ) throws {
    var specs: [SafetensorsTensorSpec] = []
    var trailing: [String] = []
    if let state = file.header.tensors.first(where: { CheckpointTensorNames.quantStateOwner($0.name) != nil }) {
      throw QuantizationError.alreadyQuantized(tensor: state.name)
    }
    for info in file.header.tensors {
      if Self.quantizes(info) {
        specs += try BnbCheckpointLayout.specs(weightName: info.name, shape: info.shape, settings: settings)
        trailing.append(BnbCheckpointLayout.stateName(weightName: info.name, type: settings.type))
      } else {
        specs.append(SafetensorsTensorSpec(name: info.name, dtype: info.dtype, shape: info.shape))
      }
    }
    let output = try SafetensorsWriter(file: writer, tensors: specs, trailing: trailing, metadata: file.header.metadata)
    let pipeline = try QuantizationPipeline(
      file: file, weights: file.header.tensors.filter(Self.quantizes), settings: settings, threads: threads, chunkBytes: chunkBytes,
      output: output)
    var drained = false
    defer { if !drained { try? pipeline.drain() } }
    var states: [String: [UInt8]] = [:]
    var dtypes: [String: Int] = [:]
    for info in file.header.tensors {
      if Self.quantizes(info) {
        let (entries, dtype) = try pipeline.quantize(info)
        for entry in entries.dropLast() { pipeline.write(entry) }
        states[entries[entries.count - 1].spec.name] = entries[entries.count - 1].bytes
        report.quantized.append(info.name)
        let count = info.elementCount
        report.outputBytes += (count + 1) / 2 + entries.reduce(0) { $0 + Int64($1.bytes.count) }
        dtypes[dtype, default: 0] += 1
      } else {
        pipeline.copy(info, from: file)
        report.copied.append(info.name)
        report.outputBytes += info.byteCount
        if info.shape.count == 2, info.name.hasSuffix(".weight"), info.dtype.isFloatingPoint, !CheckpointTensorNames.isEmbedding(info.name) {
          report.keptModules.append(CheckpointTensorNames.modulePath(info.name).joined(separator: "."))
        }
      }
      report.inputBytes += info.byteCount
      tracker.advance(bytes: info.byteCount)
      progress?(tracker.current)
    }
    drained = true
    try pipeline.drain()
    try output.finish(trailing: states)
    if let common = dtypes.max(by: { ($0.value, $1.key) < ($1.value, $0.key) })?.key, report.computeDtype == nil {
      report.computeDtype = common
    }
  }

  /// Quantizes the raw little-endian bytes of a float32/float16/bfloat16 tensor.
  ///
  /// - Returns: the tensor and its PyTorch dtype name.
  /// - Throws: ``QuantizationError/nonFiniteValue(tensor:index:value:)`` for NaN or infinity,
  ///   ``QuantizationError/absmaxMeanOverflows(tensor:)`` when double quantization's mean
  ///   overflows float32, ``QuantizationError/unsupportedDType(_:)``.
  public static func quantize(
    _ data: Data, info: SafetensorsTensorInfo, settings: QuantizationSettings, threads: Int = 1
  ) throws -> (QuantizedTensor, String) {
    let shape = info.shape.map { Int($0) }
    func run<T: FourBitScalar>(_: T.Type) throws -> (QuantizedTensor, String) {
      // Quantized first without double quantization: a block holding NaN or an infinity has a
      // non-finite absmax, so only the absmax values are scanned, and only that block searched.
      let plain = try QuantizationSettings(type: settings.type, blockSize: settings.blockSize, doubleQuantization: false)
      let single = try withElements(of: data, as: T.self) { values in
        let tensor = try QuantizedTensor(quantizing: values, shape: shape, settings: plain, threads: threads)
        if case let .float32(absmax) = tensor.scales, let block = absmax.firstIndex(where: { !$0.isFinite }) {
          let index = (block * settings.blockSize..<min((block + 1) * settings.blockSize, values.count))
            .first { !values[$0].floatValue.isFinite } ?? block * settings.blockSize
          throw QuantizationError.nonFiniteValue(tensor: info.name, index: index, value: values[index].floatValue)
        }
        return tensor
      }
      guard settings.doubleQuantization, case let .float32(absmax) = single.scales else { return (single, T.dtypeName) }
      let nested = DoubleQuantizedAbsmax(quantizing: absmax, threads: threads)
      guard nested.offset.isFinite, nested.nestedAbsmax.allSatisfy(\.isFinite) else {
        throw QuantizationError.absmaxMeanOverflows(tensor: info.name)
      }
      let tensor = try QuantizedTensor(
        type: settings.type, blockSize: settings.blockSize, shape: shape, packed: single.packed, scales: .doubleQuantized(nested))
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

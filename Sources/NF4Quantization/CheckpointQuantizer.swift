import FileSafety
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
/// **Memory** does not grow with the tensors: weights are read and quantized in chunks of whole
/// blocks with reading, quantizing and writing overlapped (``QuantizationPipeline``); only a
/// weight's absmax values are held whole (4 bytes a block). Each tensor is read once;
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
      writer = try AtomicFileWriter(
        path: output.path, replacingExisting: replacingExisting, protecting: checkpoint.inputIdentities)
    } catch {
      throw SafetensorsError.file(error)
    }
    var report = Report()
    var tracker = ProgressTracker(
      tensorCount: file.header.tensors.count, totalBytes: file.header.tensors.reduce(0) { $0 + $1.byteCount })
    try quantizeFile(file, into: writer, report: &report, tracker: &tracker).finish()
    report.files = [writer.destination]
    return report
  }

  /// A file whose tensors are all written: ``finish()`` writes the quant states and the
  /// header, reads it back and commits the file (its `fsync`, which a folder's quantization
  /// runs in the background while the next shard is quantized).
  struct WrittenFile {
    let output: SafetensorsWriter
    let states: [String: [UInt8]]

    func finish() throws { try output.finish(trailing: states) }
  }

  /// Quantizes the tensors of `file` into `writer`, to be committed by the result's
  /// ``WrittenFile/finish()``.
  func quantizeFile(
    _ file: SafetensorsFile, into writer: AtomicFileWriter, report: inout Report, tracker: inout ProgressTracker
  ) throws -> WrittenFile {
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
      file: file, weights: file.header.tensors.filter(Self.quantizes), settings: settings, threads: threads,
      chunkBytes: chunkBytes,
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
        if info.shape.count == 2, info.name.hasSuffix(".weight"), info.dtype.isFloatingPoint,
          !CheckpointTensorNames.isEmbedding(info.name)
        {
          report.keptModules.append(CheckpointTensorNames.modulePath(info.name).joined(separator: "."))
        }
      }
      report.inputBytes += info.byteCount
      tracker.advance(bytes: info.byteCount)
      progress?(tracker.current)
    }
    drained = true
    try pipeline.drain()
    if let common = dtypes.max(by: { ($0.value, $1.key) < ($1.value, $0.key) })?.key, report.computeDtype == nil {
      report.computeDtype = common
    }
    return WrittenFile(output: output, states: states)
  }
}

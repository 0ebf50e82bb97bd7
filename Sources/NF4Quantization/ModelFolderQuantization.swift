import FileSafety
import Foundation
import Safetensors

/// `quantize IN_FOLDER OUT_FOLDER`: a Hugging Face model folder in, a folder transformers loads
/// as a pre-quantized bitsandbytes model out.
///
/// The output holds one quantized shard per input shard (same file names), a
/// `model.safetensors.index.json` whose `weight_map` lists every output tensor and whose
/// `total_size` is their bytes, the input's `config.json` with a `quantization_config`
/// (``TransformersQuantizationConfig``), and the input's other small files (tokenizer,
/// generation config, README, ...) copied byte for byte. Not copied: hidden files, anything
/// that is not a regular file, weights in other formats (`.bin`, `.pt`, `.gguf`, ...),
/// files over ``maximumCopiedFileBytes``, and links that leave the folder (``SideFileLinks``);
/// the report lists them.
///
/// Everything is written into a ``StagingFolder`` that replaces the output only when complete.
struct ModelFolderQuantization {
  /// The largest `config.json` read.
  static let maximumConfigBytes: Int64 = 16 << 20
  /// The largest other file copied (a big `tokenizer.json` is about 35 MB).
  static let maximumCopiedFileBytes: Int64 = 512 << 20
  /// Extensions of weights in formats other than safetensors: not copied.
  static let otherWeightExtensions = ["bin", "pt", "pth", "ckpt", "gguf", "h5", "msgpack", "onnx", "pkl", "npz"]

  let quantizer: CheckpointQuantizer
  let checkpoint: CheckpointFolder

  func run(output: URL, replacingExisting: Bool) throws -> CheckpointQuantizer.Report {
    guard let folder = checkpoint.folder else { preconditionFailure("a folder checkpoint") }
    var inputs = checkpoint.inputIdentities
    if let identity = FileIdentity(path: folder.path) { inputs[identity] = folder.path }
    let staging = try files { () throws(FileAccessError) in
      try StagingFolder(path: output.path, replacingExisting: replacingExisting, protecting: inputs)
    }
    var report = CheckpointQuantizer.Report()
    let all = checkpoint.tensors
    var tracker = ProgressTracker(tensorCount: all.count, totalBytes: all.reduce(0) { $0 + $1.info.byteCount })
    var weightMap: [String: String] = [:]
    // Each shard is committed (its fsync) in the background while the next one is quantized.
    let commits = BackgroundCommits()
    // On an error, the commit under way ends before the staging folder is removed.
    defer { withExtendedLifetime(staging) { commits.wait() } }
    for shard in checkpoint.shards {
      let name = shard.url.lastPathComponent
      let writer = try files { () throws(FileAccessError) in try staging.writer(for: name) }
      let written = try quantizer.quantizeFile(shard, into: writer, report: &report, tracker: &tracker)
      try commits.throwFailure()
      commits.submit(written.finish)
      for tensor in written.output.tensorNames { weightMap[tensor] = name }
      report.files.append(name)
    }
    commits.wait()
    try commits.throwFailure()
    try files { () throws(FileAccessError) in
      try staging.write(
        Array(Self.index(weightMap, totalSize: report.outputBytes).utf8), as: CheckpointFolder.indexName)
    }
    report.files.append(CheckpointFolder.indexName)
    try writeConfig(from: folder, into: staging, report: &report)
    try copySmallFiles(from: folder, into: staging, report: &report)
    try files { () throws(FileAccessError) in try staging.publish() }
    report.files = report.files.map { staging.destination + "/" + $0 }
    return report
  }

  /// The index JSON, as transformers' `save_pretrained` lays it out.
  static func index(_ weightMap: [String: String], totalSize: Int64) -> String {
    let entries = weightMap.sorted { $0.key < $1.key }
      .map { "    \(SafetensorsWriter.quoted($0.key)): \(SafetensorsWriter.quoted($0.value))" }
    return "{\n  \"metadata\": {\n    \"total_size\": \(totalSize)\n  },\n  \"weight_map\": {\n"
      + entries.joined(separator: ",\n") + "\n  }\n}\n"
  }

  private func writeConfig(from folder: URL, into staging: StagingFolder, report: inout CheckpointQuantizer.Report)
    throws
  {
    let path = folder.appendingPathComponent("config.json").path
    guard FileIdentity(path: path) != nil else {
      report.skippedFiles.append("config.json (none in the input, so none written: transformers needs one)")
      return
    }
    let config = try files { () throws(FileAccessError) in
      try ReadableFile.contents(of: path, limit: Self.maximumConfigBytes, what: "config.json")
    }
    let skip = Array(Set(report.keptModules)).sorted()
    let quantization = TransformersQuantizationConfig.json(
      settings: quantizer.settings, computeDtype: report.computeDtype ?? "float32", skipModules: skip)
    let text = try TransformersQuantizationConfig.adding(quantization, to: config, path: path)
    try files { () throws(FileAccessError) in try staging.write(text, as: "config.json") }
    report.files.append("config.json")
  }

  private func copySmallFiles(from folder: URL, into staging: StagingFolder, report: inout CheckpointQuantizer.Report)
    throws
  {
    let shardNames = Set(checkpoint.shards.map(\.url.lastPathComponent))
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.sorted() ?? []
    for name in names
    where !name.hasPrefix(".") && !shardNames.contains(name) && name != CheckpointFolder.indexName
      && name != "config.json"
    {
      let path = folder.appendingPathComponent(name).path
      let extensionName = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
      if name.hasSuffix(".safetensors") || Self.otherWeightExtensions.contains(extensionName) {
        report.skippedFiles.append("\(name) (weights)")
        continue
      }
      guard let identity = FileIdentity(path: path), identity != FileIdentity(path: folder.path) else { continue }
      if let outside = SideFileLinks.leavingTarget(of: path, folder: folder.path) {
        report.skippedFiles.append("\(name) (a link to '\(outside)', outside the model folder)")
        continue
      }
      let source: ReadableFile
      do {
        source = try ReadableFile(path: path)
      } catch {
        report.skippedFiles.append("\(name) (not a regular file)")
        continue
      }
      guard source.size <= Self.maximumCopiedFileBytes else {
        report.skippedFiles.append("\(name) (\(source.size) bytes, over \(Self.maximumCopiedFileBytes))")
        continue
      }
      try files { () throws(FileAccessError) in
        let writer = try staging.writer(for: name)
        var offset: Int64 = 0
        while offset < source.size {
          let chunk = try source.read(count: Int(min(8 << 20, source.size - offset)), at: offset)
          guard !chunk.isEmpty else { break }
          try writer.write(chunk)
          offset += Int64(chunk.count)
        }
        try writer.commit()
      }
      report.files.append(name)
    }
  }
}

/// Work run in order on one background thread, the first error kept: the commits of a folder's
/// shards.
final class BackgroundCommits: @unchecked Sendable {
  private let queue = DispatchQueue(label: "qlora-budget.quantize.commit")
  private let lock = NSLock()
  private var failure: Error?

  /// Runs `body` after what was submitted before, unless something failed.
  func submit(_ body: @escaping () throws -> Void) {
    let body = UncheckedSendable(body)
    queue.async {
      guard self.firstFailure == nil else { return }
      do {
        try body.value()
      } catch {
        self.lock.lock()
        self.failure = error
        self.lock.unlock()
      }
    }
  }

  /// Waits for everything submitted.
  func wait() { queue.sync {} }

  /// Throws the first error of what has run so far.
  func throwFailure() throws {
    if let failure = firstFailure { throw failure }
  }

  private var firstFailure: Error? {
    lock.lock()
    defer { lock.unlock() }
    return failure
  }
}

/// Runs a file operation, reporting its failure as a ``SafetensorsError``.
@discardableResult
func files<T>(_ body: () throws(FileAccessError) -> T) throws(SafetensorsError) -> T {
  do {
    return try body()
  } catch {
    throw .file(error)
  }
}

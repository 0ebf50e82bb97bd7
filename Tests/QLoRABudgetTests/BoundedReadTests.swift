import FileSafety
import Foundation
import Safetensors
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// Every file the library reads is read with the bounded reader: at most its limit + 1 bytes,
/// whatever size the file reports (a sparse file claims gigabytes, `/proc` files claim 0), and a
/// FIFO or device refused at once.
@Suite struct BoundedReadTests {
  func withFolder(_ body: (URL) throws -> Void) throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "qlora-budget-bounded-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    try body(folder)
  }

  func sparse(_ url: URL, bytes: UInt64) throws {
    _ = FileManager.default.createFile(atPath: url.path, contents: Data())
    let handle = try FileHandle(forWritingTo: url)
    try handle.truncate(atOffset: bytes)
    try handle.close()
  }

  @Test func aHugeTrainingConfigIsRefusedByItsSize() throws {
    try withFolder { folder in
      let config = folder.appendingPathComponent("big.yaml")
      try sparse(config, bytes: 2_000_000_000)
      #expect(
        performing: { try TrainingConfig(contentsOf: config.path) },
        throws: {
          ($0 as? TrainingConfigError)?.description.contains("2000000000 bytes, over the 1048576-byte limit") == true
        })
    }
  }

  /// `/proc/self/pagemap` reports a size of 0 and is endless: a one-line error, at once
  /// (the reader stops at the limit; pagemap itself refuses a read that is not 8-byte aligned).
  @Test func anEndlessProcFileIsAOneLineError() throws {
    let start = Date()
    #expect(
      performing: { try TrainingConfig(contentsOf: "/proc/self/pagemap") },
      throws: {
        let text = ($0 as? TrainingConfigError)?.description ?? "\n"
        return text.hasPrefix("/proc/self/pagemap: cannot read the file: ") && !text.contains("\n")
      })
    #expect(throws: FileAccessError.self) { try InputFile.deepSpeedConfig.contents(of: "/proc/self/pagemap") }
    #expect(Date().timeIntervalSince(start) < 2)
  }

  @Test func aFIFOConfigIsRefusedAtOnce() throws {
    try withFolder { folder in
      let fifo = folder.appendingPathComponent("run.yaml")
      try #require(mkfifo(fifo.path, 0o600) == 0)
      #expect(
        performing: { try TrainingConfig(contentsOf: fifo.path) },
        throws: {
          ($0 as? TrainingConfigError)?.description.contains("a FIFO (named pipe), not a regular file") == true
        })
    }
  }

  /// A config's `deepspeed:` path stays in the config's folder: `..` and absolute paths are not
  /// read (a note says so), even when the file exists and is valid.
  @Test(arguments: ["../ds.json", "sub/../../ds.json", "ABSOLUTE"])
  func aDeepSpeedPathLeavingTheConfigFolderIsNotRead(_ reference: String) throws {
    try withFolder { folder in
      let inner = folder.appendingPathComponent("configs/run")
      try FileManager.default.createDirectory(at: inner, withIntermediateDirectories: true)
      let outside = folder.appendingPathComponent("configs/ds.json")
      try Data(#"{"zero_optimization": {"stage": 3}}"#.utf8).write(to: outside)
      let named = reference == "ABSOLUTE" ? outside.path : reference
      let text = "model_name_or_path: m\nfinetuning_type: lora\ndeepspeed: \(named)\n"
      let config = try TrainingConfig(data: Data(text.utf8), path: inner.appendingPathComponent("run.yaml").path)
      #expect(config.deepSpeedConfig == nil)
      #expect(config.setup.engine != .zero3)
      #expect(
        config.notModelled.first { $0.key.name == "deepspeed" }?.note.contains(
          "outside the config's folder, so it is not read") == true)
    }
  }

  /// A DeepSpeed file beside the config that is a FIFO or too large is an error naming the key.
  @Test func aDeepSpeedFileThatIsAFIFOIsAnError() throws {
    try withFolder { folder in
      try #require(mkfifo(folder.appendingPathComponent("ds.json").path, 0o600) == 0)
      let text = "model_name_or_path: m\nfinetuning_type: lora\ndeepspeed: ds.json\n"
      #expect(
        performing: { try TrainingConfig(data: Data(text.utf8), path: folder.appendingPathComponent("run.yaml").path) },
        throws: {
          let message = ($0 as? TrainingConfigError)?.description ?? ""
          return message.contains(":3: 'deepspeed'") && message.contains("a FIFO (named pipe)")
        })
    }
  }

  /// A micro-batch of 0 is the DeepSpeed key's fault, not the batch option's.
  @Test func aDeepSpeedMicroBatchOfZeroNamesTheKey() throws {
    var setup = TrainingSetup()
    #expect(
      performing: {
        try DeepSpeedConfigFile.apply(
          Data(#"{"zero_optimization": {"stage": 2}, "train_micro_batch_size_per_gpu": 0}"#.utf8), to: &setup)
      },
      throws: {
        ($0 as? DeepSpeedConfigError)?.description
          == "train_micro_batch_size_per_gpu is 0; expected a whole number from 1 to 65536 or \"auto\""
      })
  }

  @Test func aHugePresetIsRefusedAndAliasesStillResolve() throws {
    try withFolder { folder in
      let models = folder.appendingPathComponent("models")
      let gpus = folder.appendingPathComponent("gpus")
      try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
      try FileManager.default.createDirectory(at: gpus, withIntermediateDirectories: true)
      try Data(
        #"{"name": "tiny", "aliases": ["Tiny-Alias"], "hub_ids": ["Acme/Tiny"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100}"#
          .utf8
      )
      .write(to: models.appendingPathComponent("tiny.json"))
      let catalog = try PresetCatalog(directory: folder)
      #expect(try catalog.model(named: "tiny-alias").name == "tiny")
      #expect(catalog.modelName(forHubID: "acme/tiny") == "tiny")
      try sparse(models.appendingPathComponent("huge.json"), bytes: 1_000_000_000)
      #expect(
        performing: { try PresetCatalog(directory: folder) },
        throws: {
          "\($0)".contains("1000000000 bytes, over the 1048576-byte limit")
        })
    }
  }

  @Test func aGridOverTheCellLimitNamesTheCountAndTheLimit() throws {
    // The limit is 10^6 cells (rows stream, so it bounds time, not memory).
    #expect(
      try PlanningGrid.checkedCellCount(models: 10, ranks: 100, sequenceLengths: 100, gpus: 10, fullFineTune: false)
        == 1_000_000)
    #expect(throws: PlanningError.tooManyCells(count: 1_100_000, limit: 1_000_000)) {
      try PlanningGrid.checkedCellCount(models: 11, ranks: 100, sequenceLengths: 100, gpus: 10, fullFineTune: false)
    }
    // A full fine-tune has one rank column whatever ranks are listed.
    #expect(
      try PlanningGrid.checkedCellCount(models: 1, ranks: 1_000_000, sequenceLengths: 10, gpus: 10, fullFineTune: true)
        == 100)
    #expect(throws: PlanningError.tooManyCells(count: nil, limit: 1_000_000)) {
      try PlanningGrid.checkedCellCount(models: Int.max, ranks: 2, sequenceLengths: 1, gpus: 1, fullFineTune: false)
    }
  }
}

import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The key accounting of a training config is true: a key the file sets is never a default,
/// every top-level key is accounted for, and a later change moves a key to `overridden`. Run on
/// every verbatim framework example in Fixtures/training-configs (SOURCES.md gives the URLs).
@Suite struct ConfigAccountingTests {
  static let fixtures = [
    "axolotl-llama-3-lora-8b.yml", "axolotl-llama-3-qlora.yml", "axolotl-llama-3-qlora-fsdp-70b.yaml",
    "axolotl-qwen3-32b-qlora.yaml", "llama-factory-llama3_lora_sft_otfq.yaml", "llama-factory-qwen3_lora_sft.yaml",
    "llama-factory-qwen3_lora_sft_otfq.yaml", "torchtune-llama3_1-8B_qlora_single_device.yaml",
  ]

  static func config(_ name: String) throws -> TrainingConfig {
    try TrainingConfig(data: try TestData.trainingConfig(name), path: name)
  }

  /// The file's top-level keys, read off the text by a pattern (a name at column 0 before a colon),
  /// independently of the YAML reader.
  static func topLevelKeys(_ name: String) throws -> Set<String> {
    let text = String(decoding: try TestData.trainingConfig(name), as: UTF8.self)
    let pattern = try NSRegularExpression(pattern: "^([A-Za-z_][A-Za-z0-9_]*):", options: .anchorsMatchLines)
    let range = NSRange(text.startIndex..., in: text)
    return Set(
      pattern.matches(in: text, range: range).compactMap { Range($0.range(at: 1), in: text).map { String(text[$0]) } })
  }

  static func accounted(_ config: TrainingConfig) -> Set<String> {
    let keys =
      config.used.map(\.key) + config.notModelled.map(\.key) + config.ignored + config.emptyKeys
      + config.overridden.map(\.key) + [config.modelKey].compactMap { $0 }
    return Set(keys.map { String($0.name.split(separator: ".").first ?? "") })
  }

  @Test(arguments: fixtures) func aKeyTheFileSetsIsNeverADefault(_ name: String) throws {
    let config = try Self.config(name)
    let inFile = try Self.topLevelKeys(name)
    for use in config.defaults {
      #expect(!inFile.contains(use.key.name), "\(name): \(use.key.name) is in the file and listed as a default")
    }
  }

  @Test(arguments: fixtures) func everyTopLevelKeyIsAccountedFor(_ name: String) throws {
    let config = try Self.config(name)
    let missing = try Self.topLevelKeys(name).subtracting(Self.accounted(config))
    #expect(missing.isEmpty, "\(name): \(missing.sorted()) appear nowhere")
  }

  /// A rank given after the config replaces the file's rank key: listed as overridden with the
  /// file's value, and no longer as used.
  @Test(arguments: [
    ("axolotl-llama-3-lora-8b.yml", "lora_r", 25, "'32'"), ("llama-factory-qwen3_lora_sft.yaml", "lora_rank", 9, "'8'"),
    ("torchtune-llama3_1-8B_qlora_single_device.yaml", "model.lora_rank", 24, "'8'"),
  ])
  func aLaterRankOverridesTheRankKey(_ name: String, _ key: String, _ line: Int, _ value: String) throws {
    let config = try Self.config(name).overridden(by: [.rank(64)])
    let override = try #require(config.overridden.first { $0.key.name == key })
    #expect(override.key.line == line)
    #expect(override.value == value)
    #expect(override.change == .rank(64))
    #expect(!config.used.contains { $0.key.name == key })
    #expect(!config.defaults.contains { $0.changes.contains { $0.setting == .rank } })
  }

  /// Axolotl's examples/llama-3/lora-8b.yml: LLM.int8 (load_in_8bit, line 8), full copies of
  /// embed_tokens and lm_head (lines 29-31), flash attention (attn_implementation, line 52).
  @Test func axolotlEightBitLoRAWithSavedModules() throws {
    let config = try Self.config("axolotl-llama-3-lora-8b.yml")
    let setup = config.setup
    #expect(setup.quantization == .int8)
    #expect(setup.lora.modulesToSave == ["embed_tokens", "lm_head"])
    #expect(setup.attention == .flash)
    #expect(setup.lora.rank == 32 && setup.batchSize == 2 && setup.sequenceLength == 4096)
    #expect(config.used.contains { $0.key.name == "load_in_8bit" && $0.key.line == 8 })
    #expect(config.used.contains { $0.key.name == "attn_implementation" && $0.key.line == 52 })
  }

  /// LLaMA-Factory's examples/train_lora/qwen3_lora_sft.yaml sets lora_rank 8 (line 9), cutoff_len
  /// 2048 (line 15) and per_device_train_batch_size 1 (line 30): none of them is a default.
  @Test func llamaFactoryKeysSetInTheFileAreUsedNotDefaults() throws {
    let config = try Self.config("llama-factory-qwen3_lora_sft.yaml")
    let defaults = Set(config.defaults.map(\.key.name))
    #expect(defaults.isDisjoint(with: ["lora_rank", "cutoff_len", "per_device_train_batch_size", "lora_target"]))
    #expect(config.setup.batchSize == 1)
    #expect(config.setup.lora.rank == 8)
    #expect(defaults.contains("lora_dropout"))  // finetuning_args.py: 0, not in the file
  }

  /// transformers' use_liger_kernel turns on Liger's fused linear cross-entropy, not a
  /// token-chunked loss.
  @Test func ligerKernelFlagsMeanLigerLoss() throws {
    let trl = try TrainingConfig(data: Data(#"{"max_length": 1024, "use_liger_kernel": true}"#.utf8), path: "sft.json")
    #expect(trl.setup.lossImplementation == .liger)
    #expect(Setting.loss.current(in: trl.setup) == .loss(.liger))
    let factory = try TrainingConfig(data: Data("stage: sft\nenable_liger_kernel: true\n".utf8), path: "sft.yaml")
    #expect(factory.setup.lossImplementation == .liger)
    let axolotl = try TrainingConfig(
      data: Data("base_model: x\nliger_fused_linear_cross_entropy: true\n".utf8), path: "a.yml")
    #expect(axolotl.setup.lossImplementation == .liger)
  }

  /// Unsloth sizes its loss chunks from the free memory at run time (unsloth_zoo
  /// `_get_chunk_multiplier`: half the free memory, at most 4 GiB): the estimate says it counts the cap.
  @Test func unslothChunkSizingIsStatedBesideTheFigure() throws {
    var setup = TrainingSetup()
    setup.recipe = .unsloth
    let estimate = try MemoryEstimator.estimate(
      model: PresetCatalog.bundled.model(named: "qwen3-14b"), setup: setup, gpu: nil)
    #expect(estimate.assumptions.contains { $0.contains("free at its first call") && $0.contains("4 GiB") })
    let standard = try MemoryEstimator.estimate(
      model: PresetCatalog.bundled.model(named: "qwen3-14b"), setup: TrainingSetup(), gpu: nil)
    #expect(!standard.assumptions.contains { $0.contains("free at its first call") })
  }
}

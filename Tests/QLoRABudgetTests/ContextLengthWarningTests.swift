import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// A sequence longer than the config's `max_position_embeddings` is counted as asked and
/// warned about; up to it, nothing is said (audit: `solve` offered 49,348 tokens for
/// Llama-2-7B, built for 4,096, without a word).
@Suite struct ContextLengthWarningTests {
  static var config: [String: Any] {
    [
      "model_type": "llama", "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 2,
      "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 1_000, "max_position_embeddings": 4_096,
    ]
  }

  @Test func aSequenceBeyondTheModelsPositionsIsWarnedAbout() throws {
    let model = try TestData.model(Self.config)
    #expect(model.trainedContextLength == 4_096)
    var setup = TrainingSetup()
    setup.sequenceLength = 4_096
    #expect(try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil).sequenceLengthWarnings.isEmpty)
    setup.sequenceLength = 4_097
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    #expect(estimate.sequenceLengthWarnings.count == 1)
    let warning = try #require(estimate.sequenceLengthWarnings.first)
    #expect(warning.contains("4,097") && warning.contains("4,096") && warning.contains("max_position_embeddings"))
    #expect(estimate.warnings.contains(warning))
  }

  @Test func theBuiltInLlama2PresetIsBuiltFor4096Positions() throws {
    // meta-llama/Llama-2-7b-hf config.json: "max_position_embeddings": 4096.
    #expect(try PresetCatalog.bundled.model(named: "llama-2-7b").trainedContextLength == 4_096)
  }

  @Test func aConfigWithoutTheKeySaysNothingAndABrokenOneIsRefused() throws {
    var config = Self.config
    config.removeValue(forKey: "max_position_embeddings")
    let model = try TestData.model(config)
    var setup = TrainingSetup()
    setup.sequenceLength = 1 << 20
    #expect(try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil).sequenceLengthWarnings.isEmpty)
    config["max_position_embeddings"] = -1
    #expect(throws: ArchitectureError.self) { try TestData.model(config) }
  }
}

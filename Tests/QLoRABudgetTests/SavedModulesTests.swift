import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// peft's `modules_to_save` (ModulesToSaveWrapper: the original frozen, a `copy.deepcopy` trained
/// beside it), with the expected bytes written out from the models' published configs.
@Suite struct SavedModulesTests {
  static func estimate(_ model: String, _ change: (inout TrainingSetup) -> Void = { _ in }) throws -> MemoryEstimate {
    var setup = TrainingSetup()
    change(&setup)
    return try MemoryEstimator.estimate(model: PresetCatalog.bundled.model(named: model), setup: setup, gpu: nil)
  }

  /// Qwen3-14B (vocab_size 151936, hidden_size 5120, tie_word_embeddings false): embed_tokens and
  /// lm_head are two 151936 x 5120 matrices, fp32 after prepare_model_for_kbit_training.
  @Test func qwen3FourteenBCopiesEmbeddingAndHeadInFP32() throws {
    let copied: Int64 = 2 * 151_936 * 5_120  // 1,555,824,640 parameters
    let plain = try Self.estimate("qwen3-14b")
    let saved = try Self.estimate("qwen3-14b") { $0.lora.modulesToSave = ["embed_tokens", "lm_head"] }
    #expect(saved.trainableParameters - plain.trainableParameters == copied)
    // The copy: 4 B/param (fp32); its .grad: 4 B; AdamW's two fp32 moments: 8 B.
    #expect(saved.bytes(of: .adapters) - plain.bytes(of: .adapters) == ByteCount(4 * copied))
    #expect(saved.bytes(of: .gradients) - plain.bytes(of: .gradients) == ByteCount(4 * copied))
    #expect(saved.bytes(of: .optimizerState) - plain.bytes(of: .optimizerState) == ByteCount(8 * copied))
    // The originals stay: the unquantized weights do not change.
    #expect(saved.bytes(of: .unquantizedWeights) == plain.bytes(of: .unquantizedWeights))
    // At the peak at least the copy, its state and (from backward on) its gradient: >= 12 B/param.
    #expect(saved.peak.allocated - plain.peak.allocated >= ByteCount(12 * copied))
  }

  /// A 16-bit base is not prepared for k-bit training: the copy keeps the loaded dtype (bf16), so
  /// torch AdamW's moments (zeros_like) are bf16 too.
  @Test func sixteenBitBaseCopiesInTheComputeDtype() throws {
    let head: Int64 = 151_936 * 5_120
    let plain = try Self.estimate("qwen3-14b") { $0.quantization = .none }
    let saved = try Self.estimate("qwen3-14b") {
      $0.quantization = .none
      $0.lora.modulesToSave = ["lm_head"]
    }
    #expect(saved.bytes(of: .adapters) - plain.bytes(of: .adapters) == ByteCount(2 * head))
    #expect(saved.bytes(of: .optimizerState) - plain.bytes(of: .optimizerState) == ByteCount(4 * head))
  }

  /// Llama-3.2-1B ties lm_head to embed_tokens (vocab 128256, hidden 2048): peft deep-copies each
  /// listed module on its own, so both names make two untied copies of the one matrix.
  @Test func tiedEmbeddingsAreCopiedOncePerListedModule() throws {
    let matrix: Int64 = 128_256 * 2_048
    let plain = try Self.estimate("llama-3.2-1b")
    let one = try Self.estimate("llama-3.2-1b") { $0.lora.modulesToSave = ["lm_head"] }
    let both = try Self.estimate("llama-3.2-1b") { $0.lora.modulesToSave = ["embed_tokens", "lm_head"] }
    #expect(one.trainableParameters - plain.trainableParameters == matrix)
    #expect(both.trainableParameters - plain.trainableParameters == 2 * matrix)
  }

  @Test func aModuleTheModelLacksIsRefusedNamingIt() throws {
    let error = #expect(throws: SetupError.self) {
      try Self.estimate("qwen3-14b") { $0.lora.modulesToSave = ["score"] }
    }
    #expect(error?.description.contains("score") == true)
    #expect(error?.description.contains("lm_head") == true)
  }

  @Test func theSettingReadsNamesAndNone() throws {
    #expect(try Setting.modulesToSave.parse("embed_tokens, lm_head") == .modulesToSave(["embed_tokens", "lm_head"]))
    #expect(try Setting.modulesToSave.parse("none") == .modulesToSave([]))
    #expect(throws: SettingValueError.self) { try Setting.modulesToSave.parse("lm_head,,") }
  }
}

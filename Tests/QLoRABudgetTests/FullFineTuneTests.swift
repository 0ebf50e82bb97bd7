import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// Full fine-tuning's bytes per parameter in each precision mode (issue 10), by arithmetic.
@Suite struct FullFineTuneTests {
  /// llama-2-7b: 6,738,415,616 parameters (32 layers, hidden 4096, MLP 11008, vocab 32000,
  /// untied): 32 x (4 x 4096^2 + 3 x 4096 x 11008 + 2 x 4096) + 2 x 32000 x 4096 + 4096.
  static let parameters: Int64 = 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096) + 2 * 32000 * 4096 + 4096
  /// The fp32 buffers: the rotary `inv_freq` and `original_inv_freq` (transformers 5), head_dim / 2
  /// = 64 values each.
  static let buffers: Int64 = 2 * 64 * 4

  static func estimate(_ precision: FullFineTunePrecision, _ optimizer: Optimizer = .adamw) throws -> MemoryEstimate {
    var setup = TrainingSetup()
    setup.isFullFineTune = true
    setup.fullFineTunePrecision = precision
    setup.optimizer = optimizer
    return try MemoryEstimator.estimate(
      model: try PresetCatalog.bundled.model(named: "llama-2-7b"), setup: setup, gpu: nil)
  }

  static func trainedBytes(_ estimate: MemoryEstimate) -> Int64 {
    (estimate.bytes(of: .unquantizedWeights) + estimate.bytes(of: .quantizedWeights) + estimate.bytes(of: .gradients)
      + estimate.bytes(of: .optimizerState)).bytes
  }

  @Test func pureSixteenBitIsEightBytesPerParameter() throws {
    let estimate = try Self.estimate(.pure)
    #expect(estimate.model.parameterCount == Self.parameters)
    // bf16 weights 2 + bf16 gradients 2 + two bf16 AdamW moments 4 (torch zeros_like).
    #expect(Self.trainedBytes(estimate) == 8 * Self.parameters + Self.buffers)
    #expect(estimate.residentBytes.bytes == 6 * Self.parameters + Self.buffers)
  }

  @Test func mixedPrecisionIsSixteenBytesPerParameter() throws {
    let estimate = try Self.estimate(.mixed)
    // fp32 master weights 4 + fp32 gradients 4 + two fp32 moments 8.
    #expect(Self.trainedBytes(estimate) == 16 * Self.parameters + Self.buffers)
  }

  @Test func bitsandbytesOptimizersKeepTheirOwnStateWidth() throws {
    // paged_adamw_32bit: fp32 moments whatever the parameter: 2 + 2 + 8 = 12 B/param in pure bf16.
    let paged = try Self.estimate(.pure, .pagedAdamw)
    #expect(Self.trainedBytes(paged) + paged.hostBytes.bytes == 12 * Self.parameters + Self.buffers)
    // 8-bit AdamW: uint8 moments (2 B/param) + an fp32 absmax pair per 256 elements on the large
    // tensors; norms (4096 < 4096? no: exactly 4096 elements keep 8-bit) stay within a few MB.
    let eightBit = try Self.estimate(.pure, .adamw8bit)
    let moments = eightBit.bytes(of: .optimizerState).bytes
    #expect(moments >= 2 * Self.parameters && moments < 2 * Self.parameters + Self.parameters / 20)
  }

  @Test func theOutputStatesThePrecision() throws {
    #expect(try Self.estimate(.pure).assumptions.contains { $0.contains("pure bf16") && $0.contains("8 B/param") })
    #expect(
      try Self.estimate(.mixed).assumptions.contains { $0.contains("mixed precision") && $0.contains("16 B/param") })
    #expect(try !Self.estimate(.pure).assumptions.contains { $0.contains("lora_dropout") })
  }
}

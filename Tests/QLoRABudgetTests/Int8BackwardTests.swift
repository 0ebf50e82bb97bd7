import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// LLM.int8's backward rebuilds each frozen weight for the input's gradient (bitsandbytes
/// `MatMul8bitLt.backward`: `CB = state.CB.to(ctx.dtype_A, copy=True).mul_(SCB / 127)`): an
/// `out x in` tensor in the layer input's dtype. Expected bytes written out from the config.
@Suite struct Int8BackwardTests {
  static func estimate(_ recipe: Recipe) throws -> MemoryEstimate {
    var setup = TrainingSetup()
    setup.quantization = .int8
    setup.recipe = recipe
    return try MemoryEstimator.estimate(model: PresetCatalog.bundled.model(named: "qwen3-14b"), setup: setup, gpu: nil)
  }

  /// Qwen3-14B's largest linear is gate_proj/up_proj, 17408 x 5120 (intermediate_size,
  /// hidden_size). hf-peft upcasts the norms to fp32 (prepare_model_for_kbit_training), so the
  /// MLP's input, and the rebuilt weight, are fp32.
  @Test func fp32NormsRebuildTheLargestWeightInFP32() throws {
    let estimate = try Self.estimate(.hfPeft)
    #expect(estimate.bytes(of: .dequantBuffers) == ByteCount(17_408 * 5_120 * 4))
  }

  /// A recipe that keeps the norms in bf16 (qlora-paper casts them to fp32; unsloth keeps bf16
  /// everything) feeds bf16: the weight is rebuilt in bf16, still at least one 16-bit weight.
  @Test func sixteenBitInputsRebuildASixteenBitWeight() throws {
    let estimate = try Self.estimate(.unsloth)
    #expect(estimate.bytes(of: .dequantBuffers) == ByteCount(17_408 * 5_120 * 2))
  }

  /// Forward multiplies int8 by int8: the buffer is in backward only, so the backward moment
  /// holds it and the peak is at least the resident bytes plus it.
  @Test func theBufferIsInTheBackwardMoment() throws {
    let estimate = try Self.estimate(.hfPeft)
    let backward = estimate.step.phases.first { $0.name == .backward }?.bytes ?? .zero
    #expect(backward >= ByteCount(17_408 * 5_120 * 4))
    #expect(estimate.peak.allocated >= estimate.residentBytes + ByteCount(17_408 * 5_120 * 4))
  }
}

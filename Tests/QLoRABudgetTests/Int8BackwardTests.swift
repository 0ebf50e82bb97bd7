import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// LLM.int8's backward rebuilds each frozen weight for the input's gradient (bitsandbytes
/// `MatMul8bitLt.backward`: `CB = state.CB.to(ctx.dtype_A, copy=True).mul_(SCB / 127)`): an
/// `out x in` tensor in the layer input's dtype. Expected bytes written out from the config.
@Suite struct Int8BackwardTests {
  /// 512 tokens: the forward's temporaries (``Int8ForwardTests``, 109,572 B a token on
  /// Qwen3-14B) stay below every rebuilt weight here, so the row is backward's.
  static func estimate(_ recipe: Recipe) throws -> MemoryEstimate {
    var setup = TrainingSetup()
    setup.quantization = .int8
    setup.recipe = recipe
    setup.sequenceLength = 512
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

  /// Forward multiplies int8 by int8: the rebuilt weight is in backward only, so the backward
  /// moment holds it and the peak is at least the resident bytes plus it.
  @Test func theBufferIsInTheBackwardMoment() throws {
    let estimate = try Self.estimate(.hfPeft)
    let backward = estimate.step.phases.first { $0.name == .backward }?.bytes ?? .zero
    #expect(backward >= ByteCount(17_408 * 5_120 * 4))
    #expect(estimate.peak.allocated >= estimate.residentBytes + ByteCount(17_408 * 5_120 * 4))
  }

  /// `MatMul8bitLt.forward` keeps its input (`ctx.tensors = (CAt, subA, A)`, A a view of the
  /// input) whenever the input requires grad, adapted or not; MatMul4Bit keeps no input. On
  /// Qwen2.5-0.5B (config.json: hidden_size 896, intermediate_size 4864, 24 layers) with LoRA on
  /// q_proj and v_proj only (dropout 0.05: each branch saves its own dropped copy, so no input is
  /// shared) and no checkpointing, int8 saves per layer, beyond what NF4 saves: the attention
  /// norm's output and the MLP norm's output (fp32 after prepare_model_for_kbit_training,
  /// 896 x 4 B a token each) and down_proj's input (the fp32 gated product, 4864 x 4 B); o_proj
  /// reads SDPA's output, which SDPA saves already. The first layer's q/k/v input does not
  /// require grad (the embeddings' output, nothing calls enable_input_require_grads without
  /// checkpointing), so it is not saved there.
  @Test func int8KeepsEveryProjectionInput() throws {
    let model = try PresetCatalog.bundled.model(named: "qwen2.5-0.5b")
    var setup = TrainingSetup()
    setup.lora = LoRAConfiguration(rank: 16, targets: .modules(["q_proj", "v_proj"]), dropout: 0.05)
    setup.gradientCheckpointing = false
    setup.sequenceLength = 1024
    setup.quantization = .nf4
    let nf4 = try MemoryEstimator.stepProfile(model: model, setup: setup).savedForBackward
    setup.quantization = .int8
    let int8 = try MemoryEstimator.stepProfile(model: model, setup: setup).savedForBackward
    let tokens: Int64 = 1024
    let perLayer = tokens * 896 * 4 + tokens * 896 * 4 + tokens * 4864 * 4
    #expect(int8 - nf4 == ByteCount(24 * perLayer - tokens * 896 * 4))
  }
}

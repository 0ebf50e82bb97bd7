import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs
@testable import QLoRABudgetValidation

/// LLM.int8's forward temporaries on CUDA (bitsandbytes 0.50.2 `MatMul8bitLt.forward`,
/// backends/cuda/ops.py): the input's fp16 copy, its int8 copy (1 B) and fp32 row stats (4 B a
/// token), the outlier scan (fp16 `abs` + bool mask) while quantizing; then the int8 copy and row
/// stats beside the int32 product (4 B) and its fp16 dequantization (2 B, the output itself when
/// the input is fp16). Expected bytes written out from Qwen3-14B's config.json (hidden_size
/// 5120, intermediate_size 17408) at 4,096 tokens.
@Suite struct Int8ForwardTests {
  static let tokens: Int64 = 4096

  static func estimate(_ recipe: Recipe, compute: ComputeDtype = .bf16, platform: KernelPlatform = .cuda) throws
    -> MemoryEstimate
  {
    var setup = TrainingSetup()
    setup.quantization = .int8
    setup.recipe = recipe
    setup.sequenceLength = tokens
    setup.computeDtype = compute
    setup.platform = platform
    return try MemoryEstimator.estimate(model: PresetCatalog.bundled.model(named: "qwen3-14b"), setup: setup, gpu: nil)
  }

  /// hf-peft feeds gate_proj/up_proj fp32 (the norms upcast): multiplying them holds the int8
  /// input (5120) + row stats (4 B) + int32 product (17408 x 4) + fp16 product (17408 x 2) a
  /// token, 109,572 B; down_proj's quantize moment (fp16 copy 17408 x 2, int8 17408, stats 4,
  /// abs 17408 x 2, mask 17408) is 104,452 B; both above the fp32 rebuilt weight of backward
  /// (17408 x 5120 x 4 = 356,515,840 B) at 4,096 tokens.
  @Test func theLargestForwardIsUpProjectionsProduct() throws {
    let estimate = try Self.estimate(.hfPeft)
    #expect(estimate.bytes(of: .dequantBuffers) == ByteCount(Self.tokens * (5_120 + 4 + 17_408 * 4 + 17_408 * 2)))
  }

  /// fp16 everywhere (unsloth keeps the norms in the compute dtype): no fp16 copy of the input
  /// and the fp16 product is the output, so up_proj's product moment is 5120 + 4 + 17408 x 4 B a
  /// token (down_proj quantizing: 17408 + 4 + 17408 x 3), above the fp16 rebuilt weight
  /// (17408 x 5120 x 2 = 178,257,920 B).
  @Test func fp16InputsNeedNoHalfCopies() throws {
    let estimate = try Self.estimate(.unsloth, compute: .fp16)
    #expect(estimate.bytes(of: .dequantBuffers) == ByteCount(Self.tokens * (5_120 + 4 + 17_408 * 4)))
  }

  /// A measured CPU step of LLM.int8 (Tests/Calibration/measured/int8-steps.json, from
  /// `python3 measure_step.py int8-steps.json --spec '{"name": "qwen2.5-0.5b-s512-b1-r16-gc-sdpa-int8",
  /// "model": "qwen2.5-0.5b", "seq": 512, "batch": 1, "r": 16, "quant": "int8"}'`, model_type added):
  /// bitsandbytes' CPU backend trains through `MatMul8bitFp`, so this checks the CPU path (the
  /// weight rebuilt in forward and backward), not MatMul8bitLt's CUDA temporaries; its peaks are
  /// at the loss. Every figure within 1% (the in-sample CPU steps' largest error is 0.55%).
  @Test func aMeasuredCPUStepIsWithinOnePercent() throws {
    let report = try CalibrationValidation.run(
      cpuSteps: nil, cpuOutOfSample: try TestData.calibration("measured/int8-steps.json"), gpuRuns: [],
      gpuModels: nil, published: nil)
    #expect(report.rows.count == 4)
    for row in report.rows {
      #expect(abs(row.errorPercent) <= 1, "\(row.caseName) \(row.figure) \(row.errorPercent)")
    }
  }

  /// On CPU training runs `MatMul8bitFp`, whose forward rebuilds the weight like backward: the
  /// row is the fp32 rebuilt gate_proj, whatever the token count.
  @Test func cpuRebuildsTheWeightInstead() throws {
    let estimate = try Self.estimate(.hfPeft, platform: .cpu)
    #expect(estimate.bytes(of: .dequantBuffers) == ByteCount(17_408 * 5_120 * 4))
  }
}

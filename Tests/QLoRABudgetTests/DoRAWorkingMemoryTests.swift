import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs
@testable import QLoRABudgetValidation

/// DoRA's per-module moments, from peft 0.21.2's dora.py written out as arithmetic, and the
/// held-out CPU steps that measured them (Tests/Calibration/cpu-steps/out-of-sample.json).
@Suite struct DoRAWorkingMemoryTests {
  /// Mistral-7B's down_proj (in 14,336, out 4,096), NF4, CPU, bf16 autocast, fp32 adapters, r16:
  /// peft casts x to fp32 on CPU (LoRABranch), so lora_weight and the dequantized weight become
  /// fp32.
  /// - grad off (checkpointed forward): at lora_A's matmul the fp32 identity 14,336^2 x 4 =
  ///   822,083,584, its bf16 cast 411,041,792 and lora_A's output 14,336 x 16 x 2 = 458,752:
  ///   1,233,584,128 B.
  /// - grad on (recomputed forward): at lora_B's matmul the identity, its cast and lora_A's
  ///   output (saved) and the bf16 product 14,336 x 4,096 x 2 = 117,440,512: 1,351,024,640 B;
  ///   the norm's moment is the same here: 411,500,544 + 4 x 14,336 x 4,096 x 4 = 1,351,024,640.
  @Test func mistralsDownProjectionOnCPU() throws {
    var setup = TrainingSetup()
    setup.lora = LoRAConfiguration(rank: 16, targets: .allLinear, usesDoRA: true, dropout: 0.05)
    setup.platform = .cpu
    setup.computeDtype = .bf16
    let model = try PresetCatalog.bundled.model(named: "mistral-7b-v0.3")
    let context = StepContext(model: model, setup: setup)
    let down = try #require(model.inventory.linears.first { $0.name == "down_proj" })
    let dora = DoRAWorkingMemory(context, module: down, inputWidth: 2)
    #expect(dora.withoutGrad == ByteCount(1_233_584_128))
    #expect(dora.withGrad == ByteCount(1_351_024_640))
    // Saved: base_result and lora_result, 4,096 x 2 B per token each, and with dropout the
    // bf16 weight F.linear reads, 14,336 x 4,096 x 2 = 117,440,512.
    let tokens = setup.batchSize * setup.sequenceLength
    #expect(
      dora.saved.map(\.bytes) == [ByteCount(tokens * 4096 * 2), ByteCount(tokens * 4096 * 2), ByteCount(117_440_512)])
  }

  /// The held-out DoRA steps are all in the validation data and within issue 11's 6% per phase.
  @Test func heldOutDoRAStepsAreWithinSixPercent() throws {
    let report = try CalibrationValidation.run(
      cpuSteps: nil, cpuOutOfSample: try TestData.calibration("cpu-steps/out-of-sample.json"), gpuRuns: [],
      gpuModels: nil, published: nil)
    let rows = report.rows.filter { $0.caseName.contains("-dora") }
    #expect(rows.count == 12)
    for row in rows {
      #expect(abs(row.errorPercent) <= 6, "\(row.caseName) \(row.figure) \(row.errorPercent)")
    }
  }
}

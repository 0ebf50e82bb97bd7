import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The verdict travels with the estimate, with the margin it used (issue 20).
@Suite struct JudgementTests {
  @Test func theJudgementIsTheVerdictWithItsMargin() throws {
    let model = try PresetCatalog.bundled.model(named: "qwen3-8b")
    let gpu = try PresetCatalog.bundled.gpu(named: "rtx-4090")
    let estimate = try MemoryEstimator.estimate(model: model, setup: TrainingSetup(), gpu: gpu)
    let judgement = try #require(estimate.judgement)
    let peak = estimate.peak.process.bytes
    // The RTX 4090 is Ada Lovelace, whose CUDA context was published for its largest die: no uncertainty.
    let margin = Int64((Double(peak) * (1 + VerdictMargin.measured.relative)).rounded(.up)) - peak
    #expect(judgement.marginBytes.bytes == margin)
    #expect(judgement.headroom == gpu.capacity.bytes - peak)
    let expected: Verdict =
      peak > gpu.capacity.bytes ? .doesNotFit : peak + margin > gpu.capacity.bytes ? .tight : .fits
    #expect(judgement.verdict == expected)
    #expect(try MemoryEstimator.estimate(model: model, setup: TrainingSetup(), gpu: nil).judgement == nil)
  }
}

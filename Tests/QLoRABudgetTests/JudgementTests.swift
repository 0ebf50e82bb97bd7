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

  /// A setup under FSDP (two GPUs) is judged with the margin the published runs under an engine
  /// measured, a one-GPU setup with the one-GPU margin, in the estimate and in the planners'
  /// evaluation alike: on a card 10% above the process peak (plus the context's uncertainty), the
  /// first is `tight` and the second `fits`, the two margins being about 23% and 3%.
  @Test func aSetupUnderAnEngineIsJudgedWithTheEngineMargin() throws {
    #expect(VerdictMargin.measured.relative < 0.10 && VerdictMargin.measuredUnderEngine.relative > 0.10)
    let model = try PresetCatalog.bundled.model(named: "llama-2-7b")
    var underEngine = TrainingSetup()
    underEngine.gpuCount = 2
    underEngine.engine = .fsdp
    for (setup, expected) in [(underEngine, Verdict.tight), (TrainingSetup(), .fits)] {
      let probe = try MemoryEstimator.estimate(
        model: model, setup: setup, gpu: .custom(capacity: ByteCount(80_000_000_000), label: "probe"))
      let peak = probe.peak.process.bytes
      let allowance = probe.contextUncertainty.bytes
      let gpu = GPU.custom(capacity: ByteCount(Int64((Double(peak) * 1.10).rounded(.up)) + allowance), label: "card")
      let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
      #expect(estimate.peak.process.bytes == peak)
      let judgement = try #require(estimate.judgement)
      #expect(judgement.margin == (setup.usesEngine ? .measuredUnderEngine : .measured))
      #expect(judgement.verdict == expected)
      #expect(try Evaluation(setup: setup, gpu: gpu, model: model).verdict == expected)
    }
  }

  /// The rules written out: past the capacity, a run is `tight` exactly when it completes within
  /// the capacity once the allocator releases its cache, and the completing peak is read only
  /// then.
  @Test func theCompletingPeakMakesARunOverTheCapacityTight() {
    let capacity = ByteCount(1_000)
    let none = VerdictMargin(relative: 0, statistic: "test")
    #expect(
      Verdict(peak: ByteCount(1_100), capacity: capacity, margin: none, completingPeak: ByteCount(1_000)) == .tight)
    #expect(
      Verdict(peak: ByteCount(1_100), capacity: capacity, margin: none, completingPeak: ByteCount(1_001)) == .doesNotFit
    )
    #expect(Verdict(peak: ByteCount(1_100), capacity: capacity, margin: none, completingPeak: nil) == .doesNotFit)
    #expect(Verdict(peak: .overflow, capacity: capacity, margin: none, completingPeak: ByteCount(900)) == .doesNotFit)
    var read = false
    let readPeak = { () -> ByteCount? in
      read = true
      return nil
    }
    // 900 x 1.2 = 1,080 > 1,000: tight on the margin, the completing peak unread.
    let margin = VerdictMargin(relative: 0.2, statistic: "test")
    #expect(Verdict(peak: ByteCount(900), capacity: capacity, margin: margin, completingPeak: readPeak()) == .tight)
    #expect(Verdict(peak: ByteCount(800), capacity: capacity, margin: margin, completingPeak: readPeak()) == .fits)
    #expect(!read)
  }

  /// Qwen3-14B at rank 48 on an RTX 4090: the simulated reserve passes the card, but replayed
  /// within the card with the cache released the run completes, so it is `tight`, and the
  /// judgement gives the process peak it completes at (that reserve plus the CUDA context).
  @Test func aRunThatCompletesOnlyWithTheCacheReleasedIsTight() throws {
    let model = try PresetCatalog.bundled.model(named: "qwen3-14b")
    let gpu = try PresetCatalog.bundled.gpu(named: "rtx-4090")
    var setup = TrainingSetup()
    setup.lora.rank = 48
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
    let judgement = try #require(estimate.judgement)
    let completingReserved = try #require(estimate.reserve?.completingPeakReserved)
    let context = estimate.peak.process - estimate.peak.reserved
    #expect(estimate.peak.process > gpu.capacity)
    #expect(completingReserved + context <= gpu.capacity)
    #expect(judgement.completingProcessPeak == completingReserved + context)
    #expect(judgement.verdict == .tight && estimate.verdict == .tight)
    #expect(try Evaluation(setup: setup, gpu: gpu, model: model).verdict == .tight)
    for worst in [Verdict.fits, .tight] {
      let floor = try FloorEvaluation(setup: setup, gpu: gpu, model: model)
      #expect(floor.isAccepted(upTo: worst) == (worst == .tight))
    }
  }
}

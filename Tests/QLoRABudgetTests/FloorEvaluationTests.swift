import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The planners' fast path: the floor without the allocator simulation (``FloorEvaluation``)
/// is the full evaluation's, and the replay stopped at a limit answers as the whole replay.
/// The searches built on it are checked value by value against fit's estimator in
/// PlannerExactnessTests.
@Suite struct FloorEvaluationTests {
  /// Every preset model under the schedule baseline's five setups (rotated over the models),
  /// on a 24 and an 80 GiB GPU and on a preset GPU each: the floor and its verdict equal the
  /// full evaluation's, byte for byte.
  @Test func theFloorWithoutTheSimulationIsTheFullEvaluations() throws {
    let baseline = try AllocationScheduleTests.Baseline.load()
    let (variants, models) = (baseline.variantNames, baseline.models)
    #expect(models.count > 60 && variants.count == 5)
    let gpus = [
      GPU.custom(capacity: .gibibytes(24), label: "gpu"), GPU.custom(capacity: .gibibytes(80), label: "gpu"),
      try PresetCatalog.bundled.gpu(named: "rtx-4090"),
    ]
    var verdicts: Set<Verdict> = []
    var fullVerdicts: Set<Verdict> = []
    for (index, name) in models.enumerated() {
      let model = try PresetCatalog.bundled.model(named: name)
      let setup = try AllocationScheduleTests.setup(try #require(baseline.variants[variants[index % variants.count]]))
      for gpu in gpus {
        // Judged before the full evaluation, whose replay the memo would then hold.
        let floor = try FloorEvaluation(setup: setup, gpu: gpu, model: model)
        let accepted = [Verdict.fits, .tight].map { floor.isAccepted(upTo: $0) }
        let full = try Evaluation(setup: setup, gpu: gpu, model: model)
        let label = "\(name) \(variants[index % variants.count]) \(gpu.name)"
        #expect(floor.bytes == full.floor && floor.verdict == full.floorVerdict, "\(label)")
        #expect(accepted == [full.isAccepted(upTo: .fits), full.isAccepted(upTo: .tight)], "\(label)")
        // The floor is a floor: the verdict is never better.
        #expect(full.verdict >= floor.verdict)
        verdicts.insert(floor.verdict)
        fullVerdicts.insert(full.verdict)
      }
    }
    #expect(verdicts == Set(Verdict.allCases) && fullVerdicts == Set(Verdict.allCases))
  }

  /// The replay that stops once the reserve passes a limit: over a limit one byte below the
  /// peak reserved of the reference replay, not over the peak itself, over any lower limit;
  /// a run replayed whole is remembered (the next question is answered from the memo).
  @Test func theReplayStoppedAtALimitAnswersAsTheWholeReplay() throws {
    for name in ["qwen3-14b", "llama-3.1-8b", "gemma-2-9b"] {
      let model = try PresetCatalog.bundled.model(named: name)
      var setup = TrainingSetup()
      setup.attention = .eager
      let walk = try MemoryEstimator.Walk(model: model, setup: setup, gpu: nil)
      let schedule = walk.schedule(loader: setup.recipe.loader)
      let reference = AllocatorReserve.simulate(
        schedule, settings: setup.allocator, loader: setup.recipe.loader, capacity: nil, otherLoader: { schedule },
        pool: SortedFreeBlockPool.self
      ).peakReserved.bytes
      let memo = ReplayMemo()
      for limit in [reference / 2, reference - 1] {
        #expect(AllocatorReserve.peakReserved(of: schedule, settings: setup.allocator, exceeds: limit, memo: memo))
      }
      #expect(memo.hits == 0)
      #expect(!AllocatorReserve.peakReserved(of: schedule, settings: setup.allocator, exceeds: reference, memo: memo))
      #expect(
        AllocatorReserve.peakReserved(of: schedule, settings: setup.allocator, exceeds: reference - 1, memo: memo))
      #expect(memo.hits == 1)
    }
  }
}

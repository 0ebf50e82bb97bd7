import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The planners' fast path: the floor without the allocator simulation (``FloorEvaluation``)
/// is the full evaluation's, and a search that simulates only what the floor does not rule
/// out answers exactly as one that simulates every probe.
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

  /// The searches as they were before the fast path: every probe a full evaluation (bound and
  /// verdict alike), through the same ``Bisection``.
  static func referenceLargest(
    _ planner: Planner, _ setting: Setting, in range: ClosedRange<Int64>, upTo worst: Verdict
  ) throws -> Int64? {
    var seen: [Int64: Evaluation] = [:]
    func at(_ value: Int64) throws(PlanningError) -> Evaluation {
      if let evaluation = seen[value] { return evaluation }
      let evaluation = try planner.evaluate(setting.change(to: value)?.applied(to: planner.setup) ?? planner.setup)
      seen[value] = evaluation
      return evaluation
    }
    return try Bisection.largest(
      in: range, bound: { (v: Int64) throws(PlanningError) -> Bool in try at(v).floorVerdict.isAccepted(upTo: worst) },
      where: { (v: Int64) throws(PlanningError) -> Bool in try at(v).isAccepted(upTo: worst) })
  }

  /// The searches with every probe a full evaluation: within the scan limit, every value from
  /// the start to the floor's boundary evaluated and the largest `worst`-accepted one taken;
  /// beyond it, ``referenceLargest(_:_:in:upTo:)``.
  static func referenceLargest(
    _ planner: Planner, _ setting: Setting, upTo worst: Verdict
  ) throws -> Int64? {
    let range = try #require(setting.searchRange)
    func at(_ value: Int64) throws(PlanningError) -> Evaluation {
      try planner.evaluate(setting.change(to: value)?.applied(to: planner.setup) ?? planner.setup)
    }
    let bound = try Bisection.largest(in: range) { (v: Int64) throws(PlanningError) -> Bool in
      try at(v).floorVerdict.isAccepted(upTo: .tight)
    }
    guard let bound else { return nil }
    guard bound - range.lowerBound < Planner.scanLimit else {
      let tight = try referenceLargest(planner, setting, in: range, upTo: .tight)
      return worst == .tight
        ? tight : try tight.flatMap { try referenceLargest(planner, setting, in: 1...$0, upTo: worst) }
    }
    return try (range.lowerBound...bound).reversed().first { try at($0).isAccepted(upTo: worst) }
  }

  /// The README's headline (tight), an eager run whose reserve is far above its floor, and a
  /// 16-bit run that does not fit: the largest rank, sequence length and batch found with the
  /// floor first are the ones found with every probe simulated, fitting and tight.
  @Test(arguments: [
    ("qwen3-14b", "rtx-4090", "--rank 32"),
    ("qwen3-8b", "t4", "--attn eager --batch 4 --seq-len 1024"),
    ("llama-3.1-8b", "a10g", "--quant none --seq-len 4096"),
  ])
  func searchesAnswerAsWhenEveryProbeIsSimulated(modelName: String, gpuName: String, flags: String) throws {
    let model = try PresetCatalog.bundled.model(named: modelName)
    let gpu = try PresetCatalog.bundled.gpu(named: gpuName)
    var setup = try AllocationScheduleTests.setup(flags)
    setup.computeDtype = gpu.supportsBFloat16 ? .bf16 : .fp16
    let planner = Planner(model: model, setup: setup, gpu: gpu)
    for setting in [Setting.rank, .sequenceLength, .batchSize] {
      let answer = try planner.largest(setting)
      #expect(
        answer.mayFit?.value == (try Self.referenceLargest(planner, setting, upTo: .tight)), "\(modelName) \(setting)")
      #expect(
        answer.fitting?.value == (try Self.referenceLargest(planner, setting, upTo: .fits)), "\(modelName) \(setting)")
    }
  }
}

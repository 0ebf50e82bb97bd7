import Testing
@testable import QLoRABudget

/// The planners against the estimator: every answer is checked by calling the estimator
/// directly on both sides of the boundary.
@Suite struct PlannerTests {
  static let presets = PresetCatalog.bundled
  static let resident = FitCriterion(measure: .resident)

  /// The estimator's own verdict, measured on resident bytes, without the planner.
  static func residentFits(_ model: ModelArchitecture, _ setup: TrainingSetup, _ gpu: GPU) throws -> Bool {
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
    return estimate.residentBytes <= gpu.capacity
  }

  @Test(arguments: [Int64(1), 2, 3, 17, 1000, 65_535, 65_536])
  func bisectionFindsEveryBoundary(boundary: Int64) {
    var calls = 0
    let found = Bisection.largest(in: 1...65_536) { (x: Int64) -> Bool in
      calls += 1
      return x <= boundary
    }
    #expect(found == boundary)
    #expect(calls <= 19)
    let smallest = Bisection.smallest(in: 1...65_536) { (x: Int64) -> Bool in x >= boundary }
    #expect(smallest == boundary)
  }

  @Test func bisectionReportsNothingFits() {
    #expect(Bisection.largest(in: 5...10) { (_: Int64) -> Bool in false } == nil)
    #expect(Bisection.smallest(in: 5...10) { (_: Int64) -> Bool in false } == nil)
  }

  @Test(arguments: [
    ("qwen3-14b", "rtx-4090"), ("llama-2-7b", "t4"), ("llama-3.1-8b", "rtx-3060-12gb"),
    ("mistral-7b-v0.3", "l4"), ("gemma-2-9b", "a10g"), ("llama-65b", "rtx-a6000"),
  ])
  func largestRankIsExactAtTheBoundary(modelName: String, gpuName: String) throws {
    let model = try Self.presets.model(named: modelName)
    let gpu = try Self.presets.gpu(named: gpuName)
    let setup = TrainingSetup()
    let answer = try Planner(model: model, setup: setup, gpu: gpu, criterion: Self.resident).largest(.rank)
    let rank = try #require(answer.value)
    var at = setup
    at.lora.rank = rank
    var next = setup
    next.lora.rank = rank + 1
    #expect(try Self.residentFits(model, at, gpu))
    #expect(try !Self.residentFits(model, next, gpu))
    #expect(answer.probes <= 19)
  }

  @Test func rankAnswerRecordsBothSides() throws {
    let model = try Self.presets.model(named: "qwen3-14b")
    let gpu = try Self.presets.gpu(named: "rtx-4090")
    let answer = try Planner(model: model, setup: TrainingSetup(), gpu: gpu, criterion: Self.resident).largest(.rank)
    let value = try #require(answer.value)
    let atValue = try #require(answer.atValue)
    let atNext = try #require(answer.atNext)
    #expect(atValue.setup.lora.rank == value)
    #expect(atNext.setup.lora.rank == value + 1)
    let direct = try MemoryEstimator.estimate(model: model, setup: atValue.setup, gpu: gpu).residentBytes
    #expect(atValue.bytes == direct)
    #expect(atValue.fits && !atNext.fits)
  }

  @Test func nothingFitsGivesNoValue() throws {
    let model = try Self.presets.model(named: "llama-65b")
    let gpu = try Self.presets.gpu(named: "t4")
    let answer = try Planner(model: model, setup: TrainingSetup(), gpu: gpu, criterion: Self.resident).largest(.rank)
    #expect(answer.value == nil)
    var one = TrainingSetup()
    one.lora.rank = 1
    #expect(try !Self.residentFits(model, one, gpu))
  }

  @Test func sequenceAndBatchFollowTheMeasure() throws {
    // Resident bytes do not depend on the sequence or the batch: all of them fit or none.
    let model = try Self.presets.model(named: "qwen3-4b")
    let gpu = try Self.presets.gpu(named: "rtx-4090")
    let planner = Planner(model: model, setup: TrainingSetup(), gpu: gpu, criterion: Self.resident)
    #expect(try planner.largest(.sequenceLength).value == TrainingSetup.maximumSequenceLength)
    #expect(try planner.largest(.batch).value == TrainingSetup.maximumBatchSize)
  }

  @Test func automaticCriterionIsExactWithWhicheverMeasureTheEstimatorHas() throws {
    for (modelName, gpuName) in [("qwen3-8b", "rtx-4090"), ("llama-3.1-8b", "l4")] {
      let model = try Self.presets.model(named: modelName)
      let gpu = try Self.presets.gpu(named: gpuName)
      let answer = try Planner(model: model, setup: TrainingSetup(), gpu: gpu).largest(.rank)
      let rank = try #require(answer.value)
      for (value, expected) in [(rank, true), (rank + 1, false)] {
        var setup = TrainingSetup()
        setup.lora.rank = value
        let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
        let fits: Bool
        if let peak = estimate.peak {
          fits = Verdict(peak: peak.process, capacity: gpu.capacity, uncertainty: peak.uncertainty) == .fits
        } else {
          fits = estimate.residentBytes <= gpu.capacity
        }
        #expect(fits == expected, "\(modelName) r=\(value)")
      }
    }
  }

  @Test func peakCriterionRefusesWhileThePeakIsNotModelled() throws {
    let model = try Self.presets.model(named: "qwen3-0.6b")
    let gpu = try Self.presets.gpu(named: "t4")
    let estimate = try MemoryEstimator.estimate(model: model, setup: TrainingSetup(), gpu: gpu)
    let planner = Planner(model: model, setup: TrainingSetup(), gpu: gpu, criterion: FitCriterion(measure: .peak))
    if estimate.peak == nil {
      #expect(throws: PlanningError.peakNotModelled) { try planner.largest(.rank) }
    } else {
      #expect(try planner.largest(.rank).value != nil)
    }
  }

  @Test func fullFineTuningHasNoRank() throws {
    var setup = TrainingSetup()
    setup.isFullFineTune = true
    let planner = Planner(
      model: try Self.presets.model(named: "qwen3-0.6b"), setup: setup, gpu: try Self.presets.gpu(named: "h100-80gb"))
    #expect(throws: PlanningError.self) { try planner.largest(.rank) }
  }

  @Test func smallestGPUIsTheFirstThatFits() throws {
    let model = try Self.presets.model(named: "qwen3-14b")
    let gpus = try Self.presets.allGPUs()
    var setup = TrainingSetup()
    setup.lora.rank = 64
    let found = try #require(
      try Planner.smallestGPU(model: model, setup: setup, among: gpus, criterion: Self.resident))
    let gpu = try #require(found.estimate?.gpu)
    #expect(try Self.residentFits(model, setup, gpu))
    for smaller in gpus where (smaller.capacity, smaller.name) < (gpu.capacity, gpu.name) {
      #expect(try !Self.residentFits(model, setup, smaller), "\(smaller.name)")
    }
  }

  @Test func shardingSplitsWhatFSDPShards() throws {
    let model = try Self.presets.model(named: "llama-65b")
    var setup = TrainingSetup()
    setup.isFullFineTune = true
    let one = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    setup.gpuCount = 4
    let four = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    // Full fine-tuning: every resident byte is a parameter or optimizer state, so all of it shards.
    let weights = try #require(one.bytes(of: .unquantizedWeights))
    let moments = try #require(one.bytes(of: .optimizerState))
    #expect(weights + moments == one.residentBytes)
    #expect(four.bytes(of: .unquantizedWeights) == ByteCount((weights.bytes + 3) / 4))
    #expect(four.bytes(of: .optimizerState) == ByteCount((moments.bytes + 3) / 4))
    // Gather: the root unit whole (embed_tokens + lm_head, 32,000 x 8,192 each, bf16), two decoder
    // layers' parameters (llama-65b has 80 layers) and one layer's gradients.
    let gradients = try #require(one.bytes(of: .gradients))
    let root: Int64 = 2 * 32_000 * 8_192 * 2
    #expect(four.bytes(of: .shardingBuffers) == ByteCount(root + 2 * ((weights.bytes - root) / 80) + gradients.bytes / 80))
    // The reserve follows the sharded bytes, so four GPUs need well under half of one.
    let onePeak = try #require(one.peak?.process)
    let fourPeak = try #require(four.peak?.process)
    #expect(fourPeak.bytes < onePeak.bytes / 2)
  }

  @Test func fewestGPUsIsExact() throws {
    let model = try Self.presets.model(named: "llama-65b")
    let gpu = try Self.presets.gpu(named: "a100-80gb")
    for quantization in [BaseQuantization.none, .nf4] {
      var setup = TrainingSetup()
      setup.quantization = quantization
      let planner = Planner(model: model, setup: setup, gpu: gpu, criterion: Self.resident)
      let (count, evaluation) = try #require(try planner.fewestGPUs())
      #expect(evaluation.fits)
      if count > 1 {
        #expect(try !planner.evaluate(setup, gpuCount: count - 1).fits)
      }
      if quantization == .none { #expect(count >= 2) } else { #expect(count == 1) }
    }
  }

  @Test func changesAllFitAndComeRanked() throws {
    let model = try Self.presets.model(named: "qwen3-14b")
    let gpu = try Self.presets.gpu(named: "rtx-4090")
    // Twice the largest rank that fits: paging the moments (8 of 12 resident B/param) brings it back.
    let largest = try #require(
      try Planner(model: model, setup: TrainingSetup(), gpu: gpu, criterion: Self.resident).largest(.rank).value)
    var setup = TrainingSetup()
    setup.lora.rank = 2 * largest
    setup.batchSize = 4
    #expect(try !Self.residentFits(model, setup, gpu))
    let changes = try Planner(model: model, setup: setup, gpu: gpu, criterion: Self.resident).changes()
    #expect(!changes.isEmpty)
    for change in changes {
      #expect(try Self.residentFits(model, change.evaluation.setup, gpu), "\(change.option)")
    }
    for (a, b) in zip(changes, changes.dropFirst()) {
      #expect(a.cost <= b.cost)
    }
    let kinds = Set(changes.map(\.kind))
    #expect(kinds.contains(.lowerRank))
    #expect(kinds.contains(.pagedOptimizer))
    let lower = try #require(changes.first { $0.kind == .lowerRank })
    var next = lower.evaluation.setup
    next.lora.rank += 1
    #expect(try !Self.residentFits(model, next, gpu))
  }

  @Test func noChangesWhenItFits() throws {
    let planner = Planner(
      model: try Self.presets.model(named: "qwen3-0.6b"), setup: TrainingSetup(),
      gpu: try Self.presets.gpu(named: "h100-80gb"), criterion: Self.resident)
    #expect(try planner.changes().isEmpty)
  }

  @Test func hostMemoryTakesTheLargerOfLoadingAndTraining() throws {
    let model = try Self.presets.model(named: "qwen3-14b")
    var setup = TrainingSetup()
    setup.optimizer = .pagedAdamw
    setup.lora.rank = 256
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    let host = HostMemory(estimate, shardSize: .gigabytes(5), baseline: .gibibytes(3))
    #expect(host.pagedOptimizerState == estimate.hostBytes)
    #expect(host.pagedOptimizerState > .zero)
    #expect(host.loadTimeShard == .gigabytes(5))
    let training = ByteCount.gibibytes(3) + estimate.hostBytes
    let loading = ByteCount.gibibytes(3) + .gigabytes(5)
    #expect(host.peak == max(training, loading))
    #expect(host.fits(in: host.peak))
    #expect(!host.fits(in: host.peak - ByteCount(1)))
    // A model smaller than a shard loads whole.
    let small = try MemoryEstimator.estimate(model: try Self.presets.model(named: "smollm2-135m"), setup: setup, gpu: nil)
    let smallHost = HostMemory(small)
    #expect(smallHost.loadTimeShard.bytes == 2 * small.model.parameterCount)
  }
}

import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The planners against the estimator: every answer is checked by calling the estimator
/// directly on both sides of the boundary (PlannerExactnessTests: on every value below it).
@Suite struct PlannerTests {
  static let presets = PresetCatalog.bundled

  /// The verdict rule written out here, on the estimator's process peak, without the planner
  /// or ``Verdict``: over the capacity does not fit; within the margin of it (and the CUDA
  /// context's uncertainty, ``CUDAContextTests/allowanceMiB(_:)``) is tight.
  static func verdict(_ model: ModelArchitecture, _ setup: TrainingSetup, _ gpu: GPU) throws -> String {
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
    let process = estimate.peak.process.bytes
    let capacity = gpu.capacity.bytes
    let allowance = setup.platform == .cuda ? Double(CUDAContextTests.allowanceMiB(gpu) * 1_048_576) : 0
    if process > capacity {
      // Over the card as simulated: tight when the replay within the card, the allocator
      // releasing its cache, completes (plus the CUDA context, it is then within the card).
      let context = estimate.peak.process - estimate.peak.reserved
      guard let completing = estimate.reserve?.completingPeakReserved else { return "does_not_fit" }
      return (completing + context).bytes <= capacity ? "tight" : "does_not_fit"
    }
    if (Double(process) * (1 + (setup.usesEngine ? VerdictMargin.measuredUnderEngine : .measured).relative)).rounded(
      .up) + allowance > Double(capacity)
    {
      return "tight"
    }
    return "fits"
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
  func largestRankIsExactAtBothBoundaries(modelName: String, gpuName: String) throws {
    let model = try Self.presets.model(named: modelName)
    let gpu = try Self.presets.gpu(named: gpuName)
    var setup = TrainingSetup()
    setup.computeDtype = gpu.supportsBFloat16 ? .bf16 : .fp16
    let answer = try Planner(model: model, setup: setup, gpu: gpu).largest(.rank)
    func verdict(_ rank: Int64) throws -> String {
      var changed = setup
      changed.lora.rank = rank
      return try Self.verdict(model, changed, gpu)
    }
    // fit's verdict at each answer; the next value is not accepted; a value below that a hole
    // names has the hole's verdict (exhaustive answers), and the other values below fit.
    if let fitting = answer.fitting {
      #expect(try verdict(fitting.value) == "fits")
      #expect(try verdict(fitting.value + 1) != "fits")
      #expect(fitting.evaluation.setup.lora.rank == fitting.value)
      if answer.isExhaustive, fitting.value > 1,
        !answer.holes.contains(where: { $0.values.contains(fitting.value - 1) })
      {
        #expect(try verdict(fitting.value - 1) == "fits")
      }
    }
    if let mayFit = answer.mayFit {
      #expect(try verdict(mayFit.value) == mayFit.evaluation.verdict.rawValue)
      #expect(try verdict(mayFit.value) != "does_not_fit")
      #expect(try verdict(mayFit.value + 1) == "does_not_fit")
      #expect(mayFit.value >= answer.fitting?.value ?? 0)
      #expect(answer.beyond?.setup.lora.rank == mayFit.value + 1)
      #expect(answer.beyond?.verdict == .doesNotFit)
    } else {
      #expect(try verdict(1) == "does_not_fit")
    }
    for hole in answer.holes {
      for rank in [hole.values.lowerBound, hole.values.upperBound] {
        #expect(try verdict(rank) == hole.verdict.rawValue, "rank \(rank)")
      }
    }
    // Exhaustive: the floor's bisection over 1...65,536 (18 probes) and at most the scan limit's
    // ranks. Otherwise two walks and bisections (NonMonotoneSearchTests): about 50.
    #expect(answer.probes <= (answer.isExhaustive ? Int(Planner.scanLimit) + 20 : 50))
  }

  @Test func nothingFitsGivesNoValue() throws {
    let model = try Self.presets.model(named: "llama-65b")
    let gpu = try Self.presets.gpu(named: "t4")
    var setup = TrainingSetup()
    setup.computeDtype = .fp16
    let answer = try Planner(model: model, setup: setup, gpu: gpu).largest(.rank)
    #expect(answer.fitting == nil && answer.mayFit == nil)
    setup.lora.rank = 1
    #expect(try Self.verdict(model, setup, gpu) == "does_not_fit")
  }

  @Test func onlySearchableSettingsAreSearched() throws {
    let planner = Planner(
      model: try Self.presets.model(named: "qwen3-0.6b"), setup: TrainingSetup(),
      gpu: try Self.presets.gpu(named: "h100-80gb"))
    #expect(throws: PlanningError.self) { try planner.largest(.optimizer) }
    #expect(Setting.searchable == [.rank, .sequenceLength, .batchSize])
  }

  @Test func fullFineTuningHasNoRank() throws {
    var setup = TrainingSetup()
    setup.isFullFineTune = true
    let planner = Planner(
      model: try Self.presets.model(named: "qwen3-0.6b"), setup: setup, gpu: try Self.presets.gpu(named: "h100-80gb"))
    #expect(throws: PlanningError.self) { try planner.largest(.rank) }
  }

  @Test func smallestGPUIsTheFirstThatFitsAndCanRunTheSetup() throws {
    let model = try Self.presets.model(named: "qwen3-14b")
    let gpus = try Self.presets.allGPUs()
    var setup = TrainingSetup()
    setup.lora.rank = 64
    for worst in [Verdict.fits, .tight] {
      let found = try #require(try Planner.smallestGPU(model: model, setup: setup, among: gpus, accepting: worst))
      #expect(found.bytes <= found.gpu.capacity, "never a GPU below the estimated peak")
      #expect(found.gpu.supportsBFloat16 && found.gpu.runsBitsandbytes)
      let expected: Set<String> = worst == .fits ? ["fits"] : ["fits", "tight"]
      #expect(expected.contains(try Self.verdict(model, setup, found.gpu)))
      for smaller in gpus where (smaller.capacity, smaller.name) < (found.gpu.capacity, found.gpu.name) {
        guard smaller.supportsBFloat16, smaller.runsBitsandbytes else { continue }
        #expect(!expected.contains(try Self.verdict(model, setup, smaller)), "\(smaller.name)")
      }
    }
  }

  @Test func bf16RunsAreNeverPlacedOnPreAmpereGPUs() throws {
    let model = try Self.presets.model(named: "qwen3-0.6b")
    let gpus = try Self.presets.allGPUs()
    let found = try #require(try Planner.smallestGPU(model: model, setup: TrainingSetup(), among: gpus))
    #expect(found.gpu.supportsBFloat16)
    var fp16 = TrainingSetup()
    fp16.computeDtype = .fp16
    let anyGPU = try #require(try Planner.smallestGPU(model: model, setup: fp16, among: gpus))
    #expect(anyGPU.gpu.capacity <= found.gpu.capacity)
  }

  @Test func shardingSplitsWhatFSDPShards() throws {
    let model = try Self.presets.model(named: "llama-65b")
    var setup = TrainingSetup()
    setup.isFullFineTune = true
    let one = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    setup.gpuCount = 4
    let four = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    // Full fine-tuning: every resident byte is a parameter or optimizer state, so all of it shards.
    let weights = one.bytes(of: .unquantizedWeights)
    let moments = one.bytes(of: .optimizerState)
    #expect(weights + moments == one.residentBytes)
    #expect(four.bytes(of: .unquantizedWeights) == ByteCount((weights.bytes + 3) / 4))
    #expect(four.bytes(of: .optimizerState) == ByteCount((moments.bytes + 3) / 4))
    // Gather: the root unit whole (embed_tokens + lm_head, 32,000 x 8,192 each, bf16), two decoder
    // layers' parameters (llama-65b has 80 layers) and one layer's gradients.
    let gradients = one.bytes(of: .gradients)
    let root: Int64 = 2 * 32_000 * 8_192 * 2
    #expect(
      four.bytes(of: .shardingBuffers) == ByteCount(root + 2 * ((weights.bytes - root) / 80) + gradients.bytes / 80))
    // The reserve follows the sharded bytes, so four GPUs need well under half of one.
    #expect(four.peak.process.bytes < one.peak.process.bytes / 2)
  }

  @Test func fewestGPUsIsExact() throws {
    let model = try Self.presets.model(named: "llama-65b")
    let gpu = try Self.presets.gpu(named: "a100-80gb")
    for quantization in [BaseQuantization.none, .nf4] {
      var setup = TrainingSetup()
      setup.quantization = quantization
      let planner = Planner(model: model, setup: setup, gpu: gpu)
      let found = try #require(try planner.fewestGPUs(over: [Planner.EngineChoice(.fsdp)]))
      var at = setup
      at.gpuCount = found.count
      #expect(try Self.verdict(model, at, gpu) == "fits")
      if found.count > 1 {
        at.gpuCount = found.count - 1
        #expect(try Self.verdict(model, at, gpu) != "fits")
      }
      if quantization == .none { #expect(found.count >= 2) }
    }
  }

  /// A run that fits one GPU alone needs no engine: the plan of one GPU under plain FSDP names
  /// none (it is the single-GPU run, the same bytes), while ZeRO on one GPU is named, because
  /// DeepSpeed casts the module to the compute dtype (qwen3-8b on a T4 in fp16 fits only so).
  @Test func oneGPUPlanNamesAnEngineOnlyWhenItChangesTheRun() throws {
    let model = try Self.presets.model(named: "qwen3-8b")
    let alone = try #require(
      try Planner(model: model, setup: TrainingSetup(), gpu: try Self.presets.gpu(named: "a100-80gb")).fewestGPUs())
    #expect(alone.count == 1 && alone.choice.engine == .fsdp && alone.engine == nil)
    var fsdp = TrainingSetup()
    fsdp.engine = .fsdp
    var zero1 = fsdp
    zero1.engine = .zero1
    var offloaded = fsdp
    offloaded.offload = .parameters
    var two = fsdp
    two.gpuCount = 2
    #expect(!fsdp.usesEngine && zero1.usesEngine && offloaded.usesEngine && two.usesEngine)
    var fp16 = TrainingSetup()
    fp16.computeDtype = .fp16
    let t4 = try Self.presets.gpu(named: "t4")
    #expect(try Self.verdict(model, fp16, t4) != "fits")
    let cast = try #require(try Planner(model: model, setup: fp16, gpu: t4).fewestGPUs())
    #expect(cast.count == 1 && cast.engine?.engine.isDeepSpeed == true)
  }

  @Test func changesAllFitAndComeRanked() throws {
    let model = try Self.presets.model(named: "qwen3-8b")
    let gpu = try Self.presets.gpu(named: "rtx-4090")
    var setup = TrainingSetup()
    setup.lora.rank = 64
    setup.batchSize = 4
    #expect(try Self.verdict(model, setup, gpu) == "does_not_fit")
    let changes = try Planner(model: model, setup: setup, gpu: gpu).changes()
    #expect(!changes.isEmpty)
    for change in changes {
      #expect(try Self.verdict(model, change.evaluation.setup, gpu) == "fits", "\(change.changes)")
      #expect(SettingChange.apply(change.changes, to: setup) == change.evaluation.setup)
    }
    for (a, b) in zip(changes, changes.dropFirst()) {
      #expect(a.cost <= b.cost)
    }
    // The micro-batch found is the largest that fits: one more does not.
    let accumulation = try #require(changes.first { $0.kind == .gradientAccumulation })
    var next = accumulation.evaluation.setup
    next.batchSize += 1
    #expect(try Self.verdict(model, next, gpu) != "fits")
  }

  /// A change the setup would refuse is no candidate: qlora-paper has no chunked loss, so a run
  /// that does not fit under it gets its other changes, not an error.
  @Test func refusedChangesAreSkipped() throws {
    let model = try Self.presets.model(named: "llama-2-70b")
    let gpu = try Self.presets.gpu(named: "rtx-4090")
    var setup = TrainingSetup()
    setup.recipe = try #require(Recipe.named("qlora-paper"))
    setup.batchSize = 2
    #expect(throws: SetupError.self) { try SettingChange.loss(.chunked).applied(to: setup).validate() }
    let changes = try Planner(model: model, setup: setup, gpu: gpu).changes()
    #expect(changes.allSatisfy { $0.kind != .chunkedLoss })
  }

  @Test func noChangesWhenItFits() throws {
    let planner = Planner(
      model: try Self.presets.model(named: "qwen3-0.6b"), setup: TrainingSetup(),
      gpu: try Self.presets.gpu(named: "h100-80gb"))
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
    let small = try MemoryEstimator.estimate(
      model: try Self.presets.model(named: "smollm2-135m"), setup: setup, gpu: nil)
    let smallHost = HostMemory(small)
    #expect(smallHost.loadTimeShard.bytes == 2 * small.model.parameterCount)
  }

  /// A machine holds one process per GPU it has (`gpuCount / nodeCount`), and a host's RAM is
  /// judged against all of them, not against one.
  @Test func hostMemoryIsJudgedPerMachine() throws {
    let model = try Self.presets.model(named: "llama-2-70b")
    var setup = TrainingSetup()
    setup.gpuCount = 4
    setup.offload = [.parameters]
    for (nodes, processes) in [(Int64(1), Int64(4)), (2, 2), (4, 1)] {
      setup.nodeCount = nodes
      let host = HostMemory(try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil))
      #expect(host.processesPerMachine == processes)
      #expect(host.perMachine.bytes == processes * host.peak.bytes)
      #expect(host.fits(in: host.perMachine))
      #expect(!host.fits(in: host.perMachine - ByteCount(1)))
      #expect(host.fits(in: host.peak) == (processes == 1))
    }
  }
}

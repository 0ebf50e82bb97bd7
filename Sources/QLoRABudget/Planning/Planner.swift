/// Answers planning questions about one model and setup on one GPU (or `gpuCount` of them):
/// the largest rank, sequence length or batch that fits, how many GPUs FSDP needs, and which
/// single change makes a run fit.
///
/// Every answer comes from the estimator itself, searched by bisection: about 17 estimates for
/// a rank, 25 for a sequence length. Answers are exact for the estimator: the value returned
/// fits, and the next one does not.
///
///     let planner = Planner(model: qwen3_14b, setup: setup, gpu: rtx4090)
///     let result = try planner.largest(.rank)
///     result.value   // the largest LoRA rank whose estimate fits
public struct Planner: Sendable {
  public let model: ModelArchitecture
  public let setup: TrainingSetup
  public let gpu: GPU
  public let criterion: FitCriterion
  /// GPUs the run is sharded over (FSDP-QLoRA, see ``TrainingSetup/gpuCount``); 1 for a single GPU.
  public let gpuCount: Int64

  public init(
    model: ModelArchitecture, setup: TrainingSetup, gpu: GPU, criterion: FitCriterion = .automatic, gpuCount: Int64 = 1
  ) {
    precondition(gpuCount >= 1, "A run needs at least one GPU.")
    self.model = model
    self.setup = setup
    self.gpu = gpu
    self.criterion = criterion
    self.gpuCount = gpuCount
  }

  /// One setup, estimated and held against the GPU.
  public struct Evaluation: Hashable, Sendable {
    public let setup: TrainingSetup
    /// nil when the setup's byte counts overflow (it then does not fit).
    public let estimate: MemoryEstimate?
    /// The measured bytes per GPU.
    public let bytes: ByteCount
    public let measure: FitCriterion.Measure
    public let fits: Bool

    /// In words: `fits`, `tight` (the peak's uncertainty band holds the capacity; it counts as
    /// fitting only when the criterion allows tight) or `does not fit`.
    public var outcome: String {
      if measure == .peak, estimate?.verdict == .tight { return "tight" }
      return fits ? "fits" : "does not fit"
    }
  }

  /// Estimates `setup` on this planner's GPU(s).
  public func evaluate(_ setup: TrainingSetup, gpuCount: Int64? = nil) throws(PlanningError) -> Evaluation {
    var setup = setup
    setup.gpuCount = gpuCount ?? self.gpuCount
    let estimate: MemoryEstimate
    do {
      estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
    } catch .overflow {
      return Evaluation(setup: setup, estimate: nil, bytes: .overflow, measure: criterion.measure ?? .resident, fits: false)
    } catch {
      throw .setup(error)
    }
    let measure = criterion.resolvedMeasure(for: estimate)
    let (bytes, uncertainty) = try criterion.bytes(of: estimate)
    return Evaluation(
      setup: setup, estimate: estimate, bytes: bytes, measure: measure,
      fits: criterion.fits(bytes, uncertainty: uncertainty, capacity: gpu.capacity))
  }

  /// The answer to "what is the largest value of `parameter` that fits".
  public struct Answer: Hashable, Sendable {
    public let parameter: SolvableParameter
    /// The largest value that fits; nil when even the smallest does not.
    public let value: Int64?
    /// The evaluation at ``value`` (nil when nothing fits).
    public let atValue: Evaluation?
    /// The evaluation at ``value`` + 1 (or at the smallest value when nothing fits); nil when
    /// ``value`` is the largest value accepted.
    public let atNext: Evaluation?
    /// Estimates the search made.
    public let probes: Int
  }

  /// The largest value of `parameter` that fits, everything else fixed, by bisection.
  public func largest(_ parameter: SolvableParameter) throws(PlanningError) -> Answer {
    if parameter == .rank, setup.isFullFineTune {
      throw .notApplicable("full fine-tuning has no LoRA rank")
    }
    var probes = 0
    let value = try Bisection.largest(in: parameter.range) { (candidate: Int64) throws(PlanningError) -> Bool in
      probes += 1
      return try evaluate(parameter.applying(candidate, to: setup)).fits
    }
    let atValue = try value.map { (v: Int64) throws(PlanningError) in try evaluate(parameter.applying(v, to: setup)) }
    let next = value.map { $0 + 1 } ?? parameter.range.lowerBound
    let atNext = parameter.range.contains(next) ? try evaluate(parameter.applying(next, to: setup)) : nil
    return Answer(parameter: parameter, value: value, atValue: atValue, atNext: atNext, probes: probes)
  }

  /// The fewest GPUs of this kind that fit the run with FSDP sharding, up to `limit`; nil when
  /// even `limit` GPUs do not fit it (the replicated part alone is too large).
  public func fewestGPUs(upTo limit: Int64 = 4096) throws(PlanningError) -> (count: Int64, evaluation: Evaluation)? {
    guard let count = try Bisection.smallest(in: 1...limit, where: { (n: Int64) throws(PlanningError) -> Bool in
      try evaluate(setup, gpuCount: n).fits
    }) else { return nil }
    return (count, try evaluate(setup, gpuCount: count))
  }

  /// The smallest of `gpus` (by capacity, then name) that fits the run on one GPU.
  public static func smallestGPU(
    model: ModelArchitecture, setup: TrainingSetup, among gpus: [GPU], criterion: FitCriterion = .automatic
  ) throws(PlanningError) -> Evaluation? {
    let ordered = gpus.sorted { ($0.capacity, $0.name) < ($1.capacity, $1.name) }
    for gpu in ordered {
      let evaluation = try Planner(model: model, setup: setup, gpu: gpu, criterion: criterion).evaluate(setup)
      if evaluation.fits { return evaluation }
    }
    return nil
  }
}

/// A whole-number setting the planner can search.
public enum SolvableParameter: String, CaseIterable, Hashable, Sendable {
  case rank
  case sequenceLength = "seq-len"
  case batch

  /// Every value the estimator accepts.
  public var range: ClosedRange<Int64> {
    switch self {
    case .rank: return 1...LoRAConfiguration.maximumRank
    case .sequenceLength: return 1...TrainingSetup.maximumSequenceLength
    case .batch: return 1...TrainingSetup.maximumBatchSize
    }
  }

  public var label: String {
    switch self {
    case .rank: return "LoRA rank"
    case .sequenceLength: return "sequence length"
    case .batch: return "micro-batch size"
    }
  }

  public func value(in setup: TrainingSetup) -> Int64 {
    switch self {
    case .rank: return setup.lora.rank
    case .sequenceLength: return setup.sequenceLength
    case .batch: return setup.batchSize
    }
  }

  /// `setup` with this parameter set to `value`. A rank change keeps lora_alpha as it was.
  public func applying(_ value: Int64, to setup: TrainingSetup) -> TrainingSetup {
    var changed = setup
    switch self {
    case .rank: changed.lora.rank = value
    case .sequenceLength: changed.sequenceLength = value
    case .batch: changed.batchSize = value
    }
    return changed
  }
}

/// Boundary search over whole numbers.
public enum Bisection {
  /// The largest `x` in `range` with `fits(x)`, assuming `fits` holds below some boundary and
  /// fails above it. Returns nil when `fits(range.lowerBound)` is false. Whatever `fits` looks
  /// like, the answer `a` satisfies `fits(a)` and, unless `a` is the upper bound, `!fits(a + 1)`.
  /// Takes at most about log2(range.count) + 2 calls.
  public static func largest<E: Error>(
    in range: ClosedRange<Int64>, where fits: (Int64) throws(E) -> Bool
  ) throws(E) -> Int64? {
    guard try fits(range.lowerBound) else { return nil }
    if try fits(range.upperBound) { return range.upperBound }
    var low = range.lowerBound  // fits
    var high = range.upperBound  // does not fit
    while high - low > 1 {
      let middle = low + (high - low) / 2
      if try fits(middle) { low = middle } else { high = middle }
    }
    return low
  }

  /// The smallest `x` in `range` with `fits(x)`, assuming `fits` fails below some boundary and
  /// holds above it; nil when `fits(range.upperBound)` is false. The answer `a` satisfies
  /// `fits(a)` and, unless `a` is the lower bound, `!fits(a - 1)`.
  public static func smallest<E: Error>(
    in range: ClosedRange<Int64>, where fits: (Int64) throws(E) -> Bool
  ) throws(E) -> Int64? {
    if try fits(range.lowerBound) { return range.lowerBound }
    guard try fits(range.upperBound) else { return nil }
    var low = range.lowerBound  // does not fit
    var high = range.upperBound  // fits
    while high - low > 1 {
      let middle = low + (high - low) / 2
      if try fits(middle) { high = middle } else { low = middle }
    }
    return high
  }
}

// MARK: - Fewest GPUs over engines and offload

extension Planner {
  /// An engine and what it offloads: one way to spread a run over several GPUs.
  public struct EngineChoice: Hashable, Sendable {
    public let engine: ParallelEngine
    public let offload: EngineOffload

    public init(_ engine: ParallelEngine, offload: EngineOffload = []) {
      self.engine = engine
      self.offload = offload
    }

    /// e.g. `zero3 + offload optimizer,params`.
    public var description: String {
      engine.rawValue + (offload.isEmpty ? "" : " + offload \(offload.description)")
    }

    /// The ladder searched, least given up first: no offload before offload (host memory and
    /// PCIe traffic), fewer collectives before more (ZeRO-1, ZeRO-2, then FSDP and ZeRO-3 that
    /// gather parameters every layer), optimizer offload before parameter offload.
    public static let ladder: [EngineChoice] = [
      .init(.zero1), .init(.zero2), .init(.fsdp), .init(.zero3),
      .init(.zero2, offload: .optimizer), .init(.zero3, offload: .optimizer),
      .init(.fsdp, offload: .parameters), .init(.zero3, offload: [.optimizer, .parameters]),
    ]
  }

  /// The answer to "how many GPUs, with which engine and offload".
  public struct GPUPlan: Hashable, Sendable {
    public let choice: EngineChoice
    public let count: Int64
    /// The run on ``count`` GPUs: it fits.
    public let evaluation: Evaluation
    /// The run on one GPU fewer with the same engine and offload: it does not fit (nil when
    /// ``count`` is 1). No other choice of ``EngineChoice/ladder`` fits on fewer GPUs either.
    public let oneFewer: Evaluation?
  }

  /// The fewest GPUs of this kind (in multiples of the setup's node count) that fit the run,
  /// over every engine and offload in `choices`; ties go to the setup's own engine and offload
  /// when they are among `choices`, then to the earlier choice. nil when no choice fits on
  /// `limit` GPUs.
  public func fewestGPUsWithEngine(
    over choices: [EngineChoice] = EngineChoice.ladder, upTo limit: Int64 = TrainingSetup.maximumGPUCount
  ) throws(PlanningError) -> GPUPlan? {
    let nodes = max(1, setup.nodeCount)
    let given = EngineChoice(setup.engine, offload: setup.offload)
    let ordered = choices.contains(given) ? [given] + choices.filter { $0 != given } : choices
    var best: (choice: EngineChoice, count: Int64)?
    for choice in ordered {
      var candidate = setup
      candidate.engine = choice.engine
      candidate.offload = choice.offload
      let ceiling = min(limit / nodes, best.map { $0.count / nodes - 1 } ?? limit / nodes)
      guard ceiling >= 1 else { break }
      let found = try Bisection.smallest(in: 1...ceiling) { (perNode: Int64) throws(PlanningError) -> Bool in
        try evaluate(candidate, gpuCount: perNode * nodes).fits
      }
      if let found { best = (choice, found * nodes) }
    }
    guard let best else { return nil }
    var chosen = setup
    chosen.engine = best.choice.engine
    chosen.offload = best.choice.offload
    return GPUPlan(
      choice: best.choice, count: best.count, evaluation: try evaluate(chosen, gpuCount: best.count),
      oneFewer: best.count > nodes ? try evaluate(chosen, gpuCount: best.count - nodes) : nil)
  }
}

/// Answers planning questions about one model and setup on one GPU (or on each of the
/// setup's ``TrainingSetup/gpuCount`` GPUs): the largest rank, sequence length or batch that
/// fits, the fewest GPUs (with which engine and offload), the smallest GPU, and which single change makes a run fit.
///
/// Every answer comes from the estimator and the one ``Verdict``, searched by bisection:
/// about 17 estimates for a rank, 25 for a sequence length. Answers are exact for the
/// estimator: the value returned is accepted, and the next one is not.
///
///     let planner = Planner(model: qwen3_14b, setup: setup, gpu: rtx4090)
///     let answer = try planner.largest(.rank)
///     answer.fitting?.value   // the largest LoRA rank whose verdict is `fits`
///     answer.mayFit?.value    // the largest whose verdict is `fits` or `tight`
public struct Planner: Sendable {
  public let model: ModelArchitecture
  public let setup: TrainingSetup
  public let gpu: GPU

  public init(model: ModelArchitecture, setup: TrainingSetup, gpu: GPU) {
    self.model = model
    self.setup = setup
    self.gpu = gpu
  }

  /// `setup` estimated and judged on this planner's GPU.
  public func evaluate(_ setup: TrainingSetup) throws(PlanningError) -> Evaluation {
    try Evaluation(setup: setup, gpu: gpu, model: model)
  }

  /// One end of a search: the value found and its evaluation.
  public struct Found: Hashable, Sendable {
    public let value: Int64
    public let evaluation: Evaluation
  }

  /// The answer to "what is the largest value of `setting` that fits".
  public struct Answer: Hashable, Sendable {
    public let setting: Setting
    /// The largest value whose verdict is `fits`; nil when even the smallest is not.
    public let fitting: Found?
    /// The largest value whose verdict is `fits` or `tight` (at least ``fitting``); nil when
    /// even the smallest does not fit.
    public let mayFit: Found?
    /// The evaluation just past ``mayFit`` (it does not fit), or at the smallest value when
    /// nothing fits; nil when ``mayFit`` is the largest value accepted.
    public let beyond: Evaluation?
    /// Estimates the search made.
    public let probes: Int
  }

  /// The largest value of `setting` (one of ``Setting/searchable``) that fits, and the largest
  /// that may fit, everything else fixed, by bisection.
  public func largest(_ setting: Setting) throws(PlanningError) -> Answer {
    guard let range = setting.searchRange else {
      throw .notApplicable("the \(setting.label) is not a whole-number setting a planner searches")
    }
    if setting == .rank, setup.isFullFineTune {
      throw .notApplicable("full fine-tuning has no LoRA rank")
    }
    var probes = 0
    func at(_ value: Int64) throws(PlanningError) -> Evaluation {
      probes += 1
      return try evaluate(setting.change(to: value)?.applied(to: setup) ?? setup)
    }
    func largest(upTo worst: Verdict, in range: ClosedRange<Int64>) throws(PlanningError) -> Found? {
      var seen: [Int64: Evaluation] = [:]
      let value = try Bisection.largest(in: range) { (candidate: Int64) throws(PlanningError) -> Bool in
        let evaluation = try at(candidate)
        seen[candidate] = evaluation
        return evaluation.isAccepted(upTo: worst)
      }
      guard let value else { return nil }
      if let evaluation = seen[value] { return Found(value: value, evaluation: evaluation) }
      return Found(value: value, evaluation: try at(value))
    }
    let mayFit = try largest(upTo: .tight, in: range)
    let fitting = try mayFit.flatMap { (found: Found) throws(PlanningError) in
      try largest(upTo: .fits, in: range.lowerBound...found.value)
    }
    let next = mayFit.map { $0.value + 1 } ?? range.lowerBound
    let beyond = range.contains(next) ? try at(next) : nil
    return Answer(setting: setting, fitting: fitting, mayFit: mayFit, beyond: beyond, probes: probes)
  }

  /// The smallest of `gpus` (by capacity, then name) that can run the setup
  /// (``GPU/canRun(_:)``) and whose verdict is at worst `worst`.
  public static func smallestGPU(
    model: ModelArchitecture, setup: TrainingSetup, among gpus: [GPU], accepting worst: Verdict = .fits
  ) throws(PlanningError) -> Evaluation? {
    let ordered = gpus.filter { $0.canRun(setup) }.sorted { ($0.capacity, $0.name) < ($1.capacity, $1.name) }
    for gpu in ordered {
      let evaluation = try Planner(model: model, setup: setup, gpu: gpu).evaluate(setup)
      if evaluation.isAccepted(upTo: worst) { return evaluation }
    }
    return nil
  }
}

/// Boundary search over whole numbers.
package enum Bisection {
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
    /// The run on ``count`` GPUs: its verdict is accepted.
    public let evaluation: Evaluation
    /// The run on one GPU fewer (per node) with the same engine and offload: not accepted (nil
    /// when ``count`` is the node count). No other choice searched is accepted on fewer either.
    public let oneFewer: Evaluation?
  }

  /// The fewest GPUs of this kind (in multiples of the setup's node count) whose verdict is at
  /// worst `worst`, over every engine and offload in `choices`; ties go to the setup's own engine
  /// and offload when they are among `choices`, then to the earlier choice. nil when no choice
  /// is accepted on `limit` GPUs. The one meaning of "fewest GPUs" every command reports; pass
  /// `[EngineChoice(setup.engine, offload: setup.offload)]` to keep the setup's own engine.
  public func fewestGPUs(
    over choices: [EngineChoice] = EngineChoice.ladder, accepting worst: Verdict = .fits,
    upTo limit: Int64 = TrainingSetup.maximumGPUCount
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
        try at(candidate, perNode * nodes).isAccepted(upTo: worst)
      }
      if let found { best = (choice, found * nodes) }
    }
    guard let best else { return nil }
    var chosen = setup
    chosen.engine = best.choice.engine
    chosen.offload = best.choice.offload
    return GPUPlan(
      choice: best.choice, count: best.count, evaluation: try at(chosen, best.count),
      oneFewer: best.count > nodes ? try at(chosen, best.count - nodes) : nil)
  }

  /// `setup` on `count` GPUs.
  private func at(_ setup: TrainingSetup, _ count: Int64) throws(PlanningError) -> Evaluation {
    var setup = setup
    setup.gpuCount = count
    return try evaluate(setup)
  }
}

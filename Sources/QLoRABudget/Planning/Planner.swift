/// Answers planning questions about one model and setup on one GPU (or on each of the
/// setup's ``TrainingSetup/gpuCount`` GPUs): the largest rank, sequence length or batch that
/// fits, the fewest GPUs (with which engine and offload), the smallest GPU, and which single change makes a run fit.
///
/// Every answer comes from the estimator and the one ``Verdict``. The simulated reserve is not
/// monotone in rank, sequence length or batch (a larger value can pick a different segment
/// pattern and cache less), the floor of the process peak (allocated plus context) is: the
/// largest value is found by bisecting the floor to its boundary (nothing above it can be
/// accepted) and judging every value from the range's start to that boundary, when they are at
/// most ``scanLimit`` (``Search/answer(in:)``). A judgement simulates the allocator only until
/// its reserve rules the value out (``FloorEvaluation``); only the values returned are
/// estimated whole.
///
///     let planner = Planner(model: qwen3_14b, setup: setup, gpu: rtx4090)
///     let answer = try planner.largest(.rank)
///     answer.fitting?.value   // the largest LoRA rank whose verdict is `fits`
///     answer.mayFit?.value    // the largest whose verdict is `fits` or `tight`
///     answer.holes            // the values below them that are not
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

  /// Values judged one by one at most, from the range's start to the floor's boundary: each
  /// costs about one estimate (judged 8 at a time, ``Search/batch``), so a rank search judges a
  /// few hundred values on common GPUs and a sequence length search, whose boundary is
  /// thousands, falls back to walking and bisecting (``Answer/isExhaustive`` false).
  public static let scanLimit: Int64 = 2_048

  /// Consecutive values below an answer that are not accepted as the answer is, with their
  /// verdict (``Answer/holes``).
  public struct Hole: Hashable, Sendable {
    public let values: ClosedRange<Int64>
    public let verdict: Verdict
  }

  /// The answer to "what is the largest value of `setting` that fits".
  public struct Answer: Hashable, Sendable {
    public let setting: Setting
    /// The largest value whose verdict is `fits`; nil when none is.
    public let fitting: Found?
    /// The largest value whose verdict is `fits` or `tight` (at least ``fitting``); nil when
    /// none is.
    public let mayFit: Found?
    /// The evaluation just past ``mayFit`` (it does not fit), or at the smallest value when
    /// nothing fits; nil when ``mayFit`` is the largest value accepted.
    public let beyond: Evaluation?
    /// Every value below ``fitting`` whose verdict is not `fits`, and every value below
    /// ``mayFit`` that does not fit, in runs of one verdict, ascending: the values a reader
    /// would take to fit because a larger one does. Empty when the search is not exhaustive.
    public let holes: [Hole]
    /// Whether every value from the range's start to the floor's boundary was judged (at most
    /// ``Planner/scanLimit`` of them): then ``fitting`` and ``mayFit`` are the largest and
    /// ``holes`` are all. Otherwise they were found by walking down from the floor's boundary
    /// and bisecting (``Bisection/largest(in:bound:where:)``): each is accepted and the next
    /// value is not, but a larger value between two rejected probes, and holes, may be missed.
    public let isExhaustive: Bool
    /// Estimates the search made.
    public let probes: Int
  }

  /// The largest value of `setting` (one of ``Setting/searchable``) that fits, and the largest
  /// that may fit, everything else fixed (``Search/answer(in:)``).
  public func largest(_ setting: Setting) throws(PlanningError) -> Answer {
    guard let range = setting.searchRange else {
      throw .notApplicable("the \(setting.label) is not a whole-number setting a planner searches")
    }
    if setting == .rank, setup.isFullFineTune {
      throw .notApplicable("full fine-tuning has no LoRA rank")
    }
    return try Search(planner: self, setting: setting).answer(in: range)
  }

  /// The smallest of `gpus` (by capacity, then name) that can run the setup
  /// (``GPU/canRun(_:)``) and whose verdict is at worst `worst`. A GPU is judged first without
  /// building its estimate (``FloorEvaluation/isAccepted(upTo:)``, the same answer): the smaller
  /// GPUs the run does not fit on cost the estimator's walk, or a replay stopped at their limit.
  public static func smallestGPU(
    model: ModelArchitecture, setup: TrainingSetup, among gpus: [GPU], accepting worst: Verdict = .fits
  ) throws(PlanningError) -> Evaluation? {
    let ordered = gpus.filter { $0.canRun(setup) }.sorted { ($0.capacity, $0.name) < ($1.capacity, $1.name) }
    for gpu in ordered {
      guard try FloorEvaluation(setup: setup, gpu: gpu, model: model).isAccepted(upTo: worst) else { continue }
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

  /// The largest `x` in `range` with `accepts(x)` where `accepts` need not be monotone, but
  /// implies a monotone `bound` (`bound` holds below some boundary and fails above it, and
  /// every accepted value is within it): PyTorch's reserve against a setting is like that,
  /// the allocated bytes are its bound. Bisects `bound` to its boundary `u` (nothing above `u`
  /// can be accepted), walks down from `u` in doubling steps (u, u - 1, u - 3, u - 7, ...) to
  /// the first accepted value, and bisects between it and the rejected probe just above.
  ///
  /// The answer `a` satisfies `accepts(a)`; `a == u` or `!accepts(a + 1)`; every probe above
  /// `a` was rejected. nil when `bound(range.lowerBound)` fails or no probe down to the lower
  /// bound is accepted. A value between two rejected probes of the walk may be accepted and
  /// not found: the walk is what keeps the search at about twice log2 of the range.
  public static func largest<E: Error>(
    in range: ClosedRange<Int64>, bound: (Int64) throws(E) -> Bool, where accepts: (Int64) throws(E) -> Bool
  ) throws(E) -> Int64? {
    guard let top = try largest(in: range, where: bound) else { return nil }
    if try accepts(top) { return top }
    var rejected = top
    var step: Int64 = 1
    while rejected > range.lowerBound {
      let probe = rejected - range.lowerBound > step ? rejected - step : range.lowerBound
      if try accepts(probe) {
        var low = probe  // accepted
        var high = rejected  // not accepted
        while high - low > 1 {
          let middle = low + (high - low) / 2
          if try accepts(middle) { low = middle } else { high = middle }
        }
        return low
      }
      rejected = probe
      step = step > Int64.max / 2 ? step : 2 * step
    }
    return nil
  }

  /// The smallest `x` in `range` with `accepts(x)` where `accepts` implies a monotone `bound`
  /// that fails below some boundary and holds above it: ``largest(in:bound:where:)`` mirrored
  /// (the answer `a` is accepted and `a - 1` is not, unless `a` is where `bound` starts to hold).
  /// `range` must not reach below `-Int64.max`.
  public static func smallest<E: Error>(
    in range: ClosedRange<Int64>, bound: (Int64) throws(E) -> Bool, where accepts: (Int64) throws(E) -> Bool
  ) throws(E) -> Int64? {
    let mirrored = try largest(
      in: -range.upperBound...(-range.lowerBound), bound: { (x: Int64) throws(E) -> Bool in try bound(-x) },
      where: { (x: Int64) throws(E) -> Bool in try accepts(-x) })
    return mirrored.map { -$0 }
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
      // The bound reads the floor alone, the verdict simulates only as far as it must
      // (``FloorEvaluation``); the answer's evaluations are made below.
      var floors: [Int64: FloorEvaluation] = [:]
      func floor(_ perNode: Int64) throws(PlanningError) -> FloorEvaluation {
        if let floor = floors[perNode] { return floor }
        let floor = try FloorEvaluation(setup: onGPUs(candidate, perNode * nodes), gpu: gpu, model: model)
        floors[perNode] = floor
        return floor
      }
      let found = try Bisection.smallest(
        in: 1...ceiling,
        bound: { (perNode: Int64) throws(PlanningError) -> Bool in try floor(perNode).verdict.isAccepted(upTo: worst) },
        where: { (perNode: Int64) throws(PlanningError) -> Bool in try floor(perNode).isAccepted(upTo: worst) })
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

  /// `setup` on `count` GPUs, evaluated.
  private func at(_ setup: TrainingSetup, _ count: Int64) throws(PlanningError) -> Evaluation {
    try evaluate(onGPUs(setup, count))
  }

  /// `setup` on `count` GPUs.
  private func onGPUs(_ setup: TrainingSetup, _ count: Int64) -> TrainingSetup {
    var setup = setup
    setup.gpuCount = count
    return setup
  }
}

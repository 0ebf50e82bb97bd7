extension Planner {
  /// One setting searched on this planner: every value estimated once, however often the
  /// search asks for it, and simulated only when its verdict is asked: the bisection on the
  /// floor reads the floor alone (``FloorEvaluation``).
  final class Search {
    /// Values judged together while scanning, each on its own core: 8 bounds the memory the
    /// scan holds at once (one estimator walk each) and keeps two to eight cores busy.
    static let batch = 8

    let planner: Planner
    let setting: Setting
    private var seen: [Int64: Evaluation] = [:]
    private var floors: [Int64: FloorEvaluation] = [:]
    /// Values estimated, whether for their floor or their verdict.
    private(set) var probes = 0

    init(planner: Planner, setting: Setting) {
      self.planner = planner
      self.setting = setting
    }

    /// The largest value in `range` whose verdict is `fits`, the largest that is `fits` or
    /// `tight`, and the values below them that are not (``Answer``). The floor's verdict is
    /// bisected to its boundary: nothing above it can be accepted, the floor being monotone
    /// and never above the process peak (``FloorEvaluation/boundVerdict``). When the range's start to that boundary holds at most
    /// ``Planner/scanLimit`` values, every one is judged (``scanned(_:in:)``), from the
    /// boundary down; otherwise the answers are walked to and bisected (``walked(_:)``).
    func answer(in range: ClosedRange<Int64>) throws(PlanningError) -> Answer {
      let bound = try Bisection.largest(in: range) { (value: Int64) throws(PlanningError) -> Bool in
        try self.boundVerdict(at: value).isAccepted(upTo: .tight)
      }
      guard let bound else {
        return try answer(fitting: nil, mayFit: nil, in: range, holes: [], isExhaustive: true)
      }
      if bound - range.lowerBound < Planner.scanLimit {
        return try scanned(range.lowerBound...bound, in: range)
      }
      return try walked(range)
    }

    /// The largest value in `range` whose verdict is `fits`, without the holes below it: the
    /// values from the floor's `fits` boundary down are judged ``batch`` at a time until one
    /// fits, when they are at most ``Planner/scanLimit``; otherwise walked to and bisected. The
    /// same value as ``answer(in:)``'s ``Answer/fitting`` when that is exhaustive.
    func largestFitting(in range: ClosedRange<Int64>) throws(PlanningError) -> Found? {
      let bound = try Bisection.largest(in: range) { (value: Int64) throws(PlanningError) -> Bool in
        try self.boundVerdict(at: value).isAccepted(upTo: .fits)
      }
      guard let bound else { return nil }
      guard bound - range.lowerBound < Planner.scanLimit else {
        return try largest(in: range, upTo: .fits).map(found)
      }
      var top = bound
      while top >= range.lowerBound {
        let judged = try batch(from: top, downTo: range.lowerBound) { $0.isAccepted(upTo: .fits) }
        if let index = judged.firstIndex(of: true) { return try found(top - Int64(index)) }
        top -= Int64(judged.count)
      }
      return nil
    }

    /// `judge` of `top`, `top - 1`, ... down to ``batch`` values or `lowest`, concurrently
    /// (``FloorEvaluation``, a floor already made reused).
    private func batch<T: Sendable>(
      from top: Int64, downTo lowest: Int64, _ judge: @escaping @Sendable (FloorEvaluation) -> T
    ) throws(PlanningError) -> [T] {
      let (planner, setting, known) = (self.planner, self.setting, floors)
      let count = Int(min(Int64(Self.batch), top - lowest + 1))
      let judged = try ConcurrentResults<T>.run(count: count) { (offset: Int) throws(PlanningError) in
        let value = top - Int64(offset)
        if let floor = known[value] { return judge(floor) }
        return judge(
          try FloorEvaluation(setup: planner.setup(setting, at: value), gpu: planner.gpu, model: planner.model))
      }.values()
      probes += (0..<count).filter { known[top - Int64($0)] == nil }.count
      return judged
    }

    /// Every value in `values` judged, ``batch`` at a time from the top down.
    private func scanned(_ values: ClosedRange<Int64>, in range: ClosedRange<Int64>) throws(PlanningError) -> Answer {
      var verdicts: [Verdict] = []
      verdicts.reserveCapacity(Int(values.count))
      var top = values.upperBound
      while top >= values.lowerBound {
        let judged = try batch(from: top, downTo: values.lowerBound) { $0.fullVerdict }
        verdicts += judged
        top -= Int64(judged.count)
      }
      verdicts.reverse()
      let verdict = { (value: Int64) in verdicts[Int(value - values.lowerBound)] }
      let fitting = values.reversed().first { verdict($0) == .fits }
      let mayFit = values.reversed().first { verdict($0) != .doesNotFit }
      var holes: [Hole] = []
      for value in values.lowerBound..<(mayFit ?? values.lowerBound) {
        let judged = verdict(value)
        guard judged == .doesNotFit || (judged == .tight && value < (fitting ?? values.lowerBound)) else { continue }
        if let last = holes.last, last.verdict == judged, last.values.upperBound == value - 1 {
          holes[holes.count - 1] = Hole(values: last.values.lowerBound...value, verdict: judged)
        } else {
          holes.append(Hole(values: value...value, verdict: judged))
        }
      }
      return try answer(fitting: fitting, mayFit: mayFit, in: range, holes: holes, isExhaustive: true)
    }

    /// The answers walked down to from the floor's boundary and bisected
    /// (``Bisection/largest(in:bound:where:)``): each accepted and the next value not.
    private func walked(_ range: ClosedRange<Int64>) throws(PlanningError) -> Answer {
      let mayFit = try largest(in: range, upTo: .tight)
      let fitting = try mayFit.flatMap { (value: Int64) throws(PlanningError) in
        try largest(in: range.lowerBound...value, upTo: .fits)
      }
      return try answer(fitting: fitting, mayFit: mayFit, in: range, holes: [], isExhaustive: false)
    }

    /// The answer of these values, evaluated, with the evaluation past `mayFit`.
    private func answer(
      fitting: Int64?, mayFit: Int64?, in range: ClosedRange<Int64>, holes: [Hole], isExhaustive: Bool
    ) throws(PlanningError) -> Answer {
      let next = mayFit.map { $0 + 1 } ?? range.lowerBound
      let beyond = range.contains(next) ? try at(next) : nil
      return Answer(
        setting: setting, fitting: try fitting.map(found), mayFit: try mayFit.map(found), beyond: beyond,
        holes: holes, isExhaustive: isExhaustive, probes: probes)
    }

    private func found(_ value: Int64) throws(PlanningError) -> Found {
      Found(value: value, evaluation: try at(value))
    }

    /// The setup with `setting` at `value`, evaluated.
    func at(_ value: Int64) throws(PlanningError) -> Evaluation {
      if let evaluation = seen[value] { return evaluation }
      if floors[value] == nil { probes += 1 }
      let evaluation = try planner.evaluate(planner.setup(setting, at: value))
      seen[value] = evaluation
      return evaluation
    }

    /// The floor of the setup with `setting` at `value` (``FloorEvaluation``).
    private func floor(at value: Int64) throws(PlanningError) -> FloorEvaluation {
      if let floor = floors[value] { return floor }
      if seen[value] == nil { probes += 1 }
      let floor = try FloorEvaluation(setup: planner.setup(setting, at: value), gpu: planner.gpu, model: planner.model)
      floors[value] = floor
      return floor
    }

    /// The verdict a search bisects on for the setup with `setting` at `value`
    /// (``FloorEvaluation/boundVerdict``): the floor's, the full evaluation's when it is made.
    private func boundVerdict(at value: Int64) throws(PlanningError) -> Verdict {
      if let evaluation = seen[value], !MemoryEstimator.Walk.chunksLossByFreeMemory(evaluation.setup) {
        return evaluation.floorVerdict
      }
      return try floor(at: value).boundVerdict
    }

    /// Whether the verdict of the setup with `setting` at `value` is at worst `worst`: the full
    /// evaluation's when it is made, else ``FloorEvaluation/isAccepted(upTo:)`` (the same
    /// answer, the allocator simulated only until its reserve rules the value out).
    private func isAccepted(_ value: Int64, upTo worst: Verdict) throws(PlanningError) -> Bool {
      if let evaluation = seen[value] { return evaluation.isAccepted(upTo: worst) }
      return try floor(at: value).isAccepted(upTo: worst)
    }

    /// The largest value in `range` whose verdict is at worst `worst`, walked to and bisected
    /// (``Bisection/largest(in:bound:where:)`` on the floor's verdict).
    private func largest(in range: ClosedRange<Int64>, upTo worst: Verdict) throws(PlanningError) -> Int64? {
      try Bisection.largest(
        in: range,
        bound: { (v: Int64) throws(PlanningError) -> Bool in try self.boundVerdict(at: v).isAccepted(upTo: worst) },
        where: { (v: Int64) throws(PlanningError) -> Bool in try self.isAccepted(v, upTo: worst) })
    }
  }

  /// The planner's setup with `setting` at `value`.
  fileprivate func setup(_ setting: Setting, at value: Int64) -> TrainingSetup {
    setting.change(to: value)?.applied(to: setup) ?? setup
  }
}

extension FloorEvaluation {
  /// The full evaluation's verdict (``Evaluation/verdict``), from ``isAccepted(upTo:)`` alone:
  /// a value that does not fit is simulated only until that is certain.
  fileprivate var fullVerdict: Verdict {
    isAccepted(upTo: .fits) ? .fits : isAccepted(upTo: .tight) ? .tight : .doesNotFit
  }
}

/// One change to a setup that makes it fit, and what it gives up.
public struct FitChange: Hashable, Sendable {
  /// What a change costs, from nothing to training on less. Changes are ranked by this, then
  /// by ``fraction`` (how much of a setting is given up), then by the bytes they leave.
  ///
  /// | cost | meaning | changes |
  /// | --- | --- | --- |
  /// | `nothing` | the same training, numerically | SDPA/flash attention instead of eager; paged optimizer; double quantization; chunked cross-entropy; expandable segments |
  /// | `speed` | the same updates, slower | gradient accumulation with a smaller micro-batch (same effective batch); gradient checkpointing (one extra forward, about a third more compute) |
  /// | `precision` | close to the same updates, less precise state or weights | 8-bit optimizer (bitsandbytes reports parity with 32-bit Adam); quantizing a 16-bit base to NF4 |
  /// | `capacity` | trains a smaller adapter or on shorter text | lower rank; shorter sequences |
  public enum Cost: Int, Comparable, CaseIterable, Hashable, Sendable {
    case nothing, speed, precision, capacity

    public var label: String {
      switch self {
      case .nothing: return "gives up nothing"
      case .speed: return "slower"
      case .precision: return "less precise"
      case .capacity: return "trains less"
      }
    }

    public static func < (a: Cost, b: Cost) -> Bool { a.rawValue < b.rawValue }
  }

  /// Which setting the change moves; the raw value names it in JSON.
  public enum Kind: String, CaseIterable, Hashable, Sendable {
    case attention
    case expandableSegments = "expandable-segments"
    case pagedOptimizer = "paged-optimizer"
    case doubleQuantization = "double-quant"
    case chunkedLoss = "chunked-loss"
    case gradientAccumulation = "grad-accumulation"
    case checkpointing = "grad-ckpt"
    case eightBitOptimizer = "8bit-optimizer"
    case quantizeBase = "quantize-base"
    case lowerRank = "lower-rank"
    case shorterSequence = "shorter-seq"
  }

  public let kind: Kind
  /// The settings changed, e.g. `[.optimizer(.pagedAdamw)]`.
  public let changes: [SettingChange]
  /// What the change gives up, in words.
  public let note: String
  public let cost: Cost
  /// The part of a setting given up (e.g. 0.5 for rank 64 -> 32); 0 when nothing is.
  public let fraction: Double
  /// The changed setup and its evaluation (it fits).
  public let evaluation: Evaluation

  /// Orders changes from the one that gives up least.
  public static func ranked(_ a: FitChange, _ b: FitChange) -> Bool {
    if a.cost != b.cost { return a.cost < b.cost }
    if a.fraction != b.fraction { return a.fraction < b.fraction }
    return a.evaluation.bytes < b.evaluation.bytes
  }
}

extension Planner {
  /// Every single change whose verdict is `fits`, ranked by how little it gives up
  /// (``FitChange/ranked(_:_:)``); empty when the run already fits or nothing single helps.
  ///
  /// Candidates: attention `sdpa` or `flash` instead of `eager`; the caching allocator's
  /// expandable segments (when the simulated reserve holds free blocks: fragmentation, reserved
  /// minus allocated, may be the difference); the paged variant of the
  /// optimizer; double quantization on; chunked cross-entropy; the largest micro-batch that
  /// fits with gradient accumulation keeping the effective batch; gradient checkpointing on;
  /// the 8-bit variant of the optimizer; NF4 instead of a 16-bit or int8 base; the largest
  /// rank and the longest sequence below the asked ones that fit (``Search/largestFitting(in:)``:
  /// ``largest(_:)``'s answer when that is below the asked one).
  ///
  /// The candidates are independent: they are judged concurrently, one per core, and ranked
  /// in one order whatever the scheduling, so the answer is the same on any machine.
  public func changes() throws(PlanningError) -> [FitChange] {
    let current = try evaluate(setup)
    guard current.verdict != .fits else { return [] }
    var candidates: [Candidate] = []
    func consider(
      _ kind: FitChange.Kind, _ changes: [SettingChange], _ note: String, _ cost: FitChange.Cost, fraction: Double = 0
    ) {
      candidates.append(.change(kind, changes, note, cost, fraction: fraction))
    }

    if setup.attention == .eager {
      for attention in [AttentionImplementation.sdpa, .flash] {
        consider(.attention, [.attention(attention)], "exact attention without the s x s score matrix", .nothing)
      }
    }
    if !setup.allocator.expandableSegments, let estimate = current.estimate, estimate.reserve != nil,
      estimate.peak.reserved > estimate.peak.allocated
    {
      var allocator = setup.allocator
      allocator.expandableSegments = true
      consider(
        .expandableSegments, [.allocator(allocator)],
        "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True: segments grow by pages, so little of the "
          + "\((estimate.peak.reserved - estimate.peak.allocated).formatted(.binary)) the allocator caches beyond its tensors "
          + "(reserved minus allocated) is left", .nothing)
    }
    let paged: [Optimizer: Optimizer] = [.adamw: .pagedAdamw, .adamw8bit: .pagedAdamw8bit]
    if let pagedOptimizer = paged[setup.optimizer] {
      consider(
        .pagedOptimizer, [.optimizer(pagedOptimizer)],
        "large moments move to host-backed memory; slower only when paging happens", .nothing)
    }
    if setup.effectiveQuantization.isFourBit, !setup.usesDoubleQuantization {
      consider(
        .doubleQuantization, [.doubleQuantization(true)],
        "quantizes the absmax constants (no loss reported, QLoRA paper)", .nothing)
    }
    if !setup.usesChunkedCrossEntropy {
      consider(
        .chunkedLoss, [.loss(.chunked)],
        "the same loss from fused chunked cross-entropy (Liger, Unsloth) without full fp32 logits", .nothing)
    }
    if setup.batchSize > 1 { candidates.append(.searched(.batchSize, current: setup.batchSize)) }
    if !setup.usesGradientCheckpointing {
      consider(
        .checkpointing, [.gradientCheckpointing(true)],
        "recomputes each layer's forward in backward: about a third more compute", .speed, fraction: 1.0 / 3)
    }
    let eightBit: [Optimizer: Optimizer] = [.adamw: .adamw8bit, .pagedAdamw: .pagedAdamw8bit]
    if let eightBitOptimizer = eightBit[setup.optimizer] {
      consider(
        .eightBitOptimizer, [.optimizer(eightBitOptimizer)],
        "8-bit blockwise moments (parity with 32-bit Adam reported by bitsandbytes)", .precision)
    }
    if !setup.isFullFineTune, !setup.quantization.isFourBit {
      consider(
        .quantizeBase, [.quantization(.nf4), .doubleQuantization(true)],
        "the frozen base in 4-bit NF4 (QLoRA) instead of \(setup.quantization.rawValue)", .precision)
    }
    for setting in [Setting.rank, .sequenceLength] {
      if setting == .rank, setup.isFullFineTune { continue }
      guard let current = setting.integer(in: setup), current > 1 else { continue }
      candidates.append(.searched(setting, current: current))
    }
    // The candidates are independent: judged concurrently (one per core), then ranked from
    // the one order they were listed in, so the answer is the same on any machine.
    let listed = candidates
    let results = ConcurrentResults<FitChange?>.run(count: listed.count) { (index: Int) throws(PlanningError) in
      try judge(listed[index])
    }
    return try results.values().compactMap { $0 }.sorted(by: FitChange.ranked)
  }

  /// One candidate of ``changes()``: a change of settings, or the largest value of a setting
  /// below the asked one (`current`) that fits.
  private enum Candidate: Sendable {
    case change(FitChange.Kind, [SettingChange], String, FitChange.Cost, fraction: Double)
    case searched(Setting, current: Int64)
  }

  /// `candidate` as a change that fits, or nil.
  private func judge(_ candidate: Candidate) throws(PlanningError) -> FitChange? {
    switch candidate {
    case .change(let kind, let changes, let note, let cost, let fraction):
      return try fitting(kind, changes, note, cost, fraction: fraction, evaluated: nil)
    case .searched(let setting, let current):
      // solve's answer when that is below the asked value (``Search/largestFitting(in:)``).
      let found = try Search(planner: self, setting: setting).largestFitting(in: 1...(current - 1))
      guard let found, let change = setting.change(to: found.value) else { return nil }
      let value = found.value
      let fraction = 1 - Double(value) / Double(current)
      switch setting {
      case .batchSize:
        let steps = (current + value - 1) / value
        return try fitting(
          .gradientAccumulation, [change],
          "with \(steps) gradient accumulation steps: effective batch \(value * steps) (asked \(current))", .speed,
          fraction: fraction, evaluated: found.evaluation)
      default:
        return try fitting(
          setting == .rank ? .lowerRank : .shorterSequence, [change], "\(setting.label) \(value) instead of \(current)",
          .capacity, fraction: fraction, evaluated: found.evaluation)
      }
    }
  }

  /// The change if its verdict is `fits`; nil when it does not fit or the setup refuses it (e.g.
  /// a chunked loss under a recipe without one). `evaluated` is the changed setup's evaluation
  /// when a search has made it.
  private func fitting(
    _ kind: FitChange.Kind, _ changes: [SettingChange], _ note: String, _ cost: FitChange.Cost, fraction: Double,
    evaluated: Evaluation?
  ) throws(PlanningError) -> FitChange? {
    let changed = SettingChange.apply(changes, to: setup)
    guard (try? changed.validate()) != nil else { return nil }
    let evaluation: Evaluation
    if let evaluated, evaluated.setup == changed {
      evaluation = evaluated
    } else {
      // Judged first without building its estimate (``FloorEvaluation``): a change that does
      // not fit is simulated only until that is certain.
      guard try FloorEvaluation(setup: changed, gpu: gpu, model: model).isAccepted(upTo: .fits) else { return nil }
      evaluation = try evaluate(changed)
    }
    guard evaluation.verdict == .fits else { return nil }
    return FitChange(
      kind: kind, changes: changes, note: note, cost: cost, fraction: fraction, evaluation: evaluation)
  }
}

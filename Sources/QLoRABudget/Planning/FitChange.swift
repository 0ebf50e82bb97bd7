/// One change to a setup that makes it fit, and what it gives up.
public struct FitChange: Hashable, Sendable {
  /// What a change costs, from nothing to training on less. Changes are ranked by this, then
  /// by ``fraction`` (how much of a setting is given up), then by the bytes they leave.
  ///
  /// | cost | meaning | changes |
  /// | --- | --- | --- |
  /// | `nothing` | the same training, numerically | SDPA/flash attention instead of eager; paged optimizer; double quantization; chunked cross-entropy |
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

  public enum Kind: String, CaseIterable, Hashable, Sendable {
    case attention
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
  /// The change in words, e.g. `--optimizer paged-adamw`.
  public let option: String
  /// What the change gives up, in words.
  public let note: String
  public let cost: Cost
  /// The part of a setting given up (e.g. 0.5 for rank 64 -> 32); 0 when nothing is.
  public let fraction: Double
  /// The changed setup and its evaluation (it fits).
  public let evaluation: Planner.Evaluation

  /// Orders changes from the one that gives up least.
  public static func ranked(_ a: FitChange, _ b: FitChange) -> Bool {
    if a.cost != b.cost { return a.cost < b.cost }
    if a.fraction != b.fraction { return a.fraction < b.fraction }
    return a.evaluation.bytes < b.evaluation.bytes
  }
}

extension Planner {
  /// Every single change that makes the run fit, ranked by how little it gives up
  /// (``FitChange/ranked(_:_:)``); empty when the run already fits or nothing single helps.
  ///
  /// Candidates: attention `sdpa` or `flash` instead of `eager`; the paged variant of the
  /// optimizer; double quantization on; the largest micro-batch that fits with gradient
  /// accumulation keeping the effective batch; chunked cross-entropy (batch x steps >= the batch asked for);
  /// gradient checkpointing on; the 8-bit variant of the optimizer; NF4 instead of a 16-bit or
  /// int8 base; the largest rank and the longest sequence that fit (found by bisection).
  public func changes() throws(PlanningError) -> [FitChange] {
    guard try !evaluate(setup).fits else { return [] }
    var found: [FitChange] = []
    func consider(
      _ kind: FitChange.Kind, _ option: String, _ note: String, _ cost: FitChange.Cost, fraction: Double = 0,
      _ changed: TrainingSetup
    ) throws(PlanningError) {
      let evaluation = try evaluate(changed)
      guard evaluation.fits else { return }
      found.append(FitChange(kind: kind, option: option, note: note, cost: cost, fraction: fraction, evaluation: evaluation))
    }
    var changed = setup

    if setup.attention == .eager {
      for attention in [AttentionImplementation.sdpa, .flash] {
        changed = setup
        changed.attention = attention
        try consider(.attention, "--attn \(attention.rawValue)", "exact attention without the s x s score matrix", .nothing, changed)
      }
    }
    let paged: [Optimizer: Optimizer] = [.adamw: .pagedAdamw, .adamw8bit: .pagedAdamw8bit]
    if let pagedOptimizer = paged[setup.optimizer] {
      changed = setup
      changed.optimizer = pagedOptimizer
      try consider(
        .pagedOptimizer, "--optimizer \(pagedOptimizer.rawValue)",
        "large moments move to host-backed memory; slower only when paging happens", .nothing, changed)
    }
    if setup.effectiveQuantization.isFourBit, !setup.usesDoubleQuantization {
      changed = setup
      changed.usesDoubleQuantization = true
      try consider(
        .doubleQuantization, "--double-quant true", "quantizes the absmax constants (no loss reported, QLoRA paper)",
        .nothing, changed)
    }
    if !setup.usesChunkedCrossEntropy {
      changed = setup
      changed.chunkedCrossEntropy = true
      try consider(
        .chunkedLoss, "--loss chunked", "the same loss from fused chunked cross-entropy (Liger, Unsloth) without full fp32 logits",
        .nothing, changed)
    }
    if setup.batchSize > 1 {
      let batch = try Bisection.largest(in: 1...(setup.batchSize - 1)) { (b: Int64) throws(PlanningError) -> Bool in
        try evaluate(SolvableParameter.batch.applying(b, to: setup)).fits
      }
      if let batch {
        let steps = (setup.batchSize + batch - 1) / batch
        try consider(
          .gradientAccumulation, "--batch \(batch) with \(steps) accumulation steps",
          "effective batch \(batch * steps) (asked \(setup.batchSize)); \(steps) steps per update", .speed,
          fraction: 1 - Double(batch) / Double(setup.batchSize), SolvableParameter.batch.applying(batch, to: setup))
      }
    }
    if !setup.usesGradientCheckpointing {
      changed = setup
      changed.gradientCheckpointing = true
      try consider(
        .checkpointing, "--grad-ckpt true", "recomputes each layer's forward in backward: about a third more compute",
        .speed, fraction: 1.0 / 3, changed)
    }
    let eightBit: [Optimizer: Optimizer] = [.adamw: .adamw8bit, .pagedAdamw: .pagedAdamw8bit]
    if let eightBitOptimizer = eightBit[setup.optimizer] {
      changed = setup
      changed.optimizer = eightBitOptimizer
      try consider(
        .eightBitOptimizer, "--optimizer \(eightBitOptimizer.rawValue)",
        "8-bit blockwise moments (parity with 32-bit Adam reported by bitsandbytes)", .precision, changed)
    }
    if !setup.isFullFineTune, !setup.quantization.isFourBit {
      changed = setup
      changed.quantization = .nf4
      changed.usesDoubleQuantization = true
      try consider(.quantizeBase, "--quant nf4", "the frozen base in 4-bit NF4 (QLoRA) instead of \(setup.quantization.rawValue)",
        .precision, changed)
    }
    for parameter in [SolvableParameter.rank, .sequenceLength] {
      if parameter == .rank, setup.isFullFineTune { continue }
      let current = parameter.value(in: setup)
      guard current > 1 else { continue }
      let value = try Bisection.largest(in: 1...(current - 1)) { (v: Int64) throws(PlanningError) -> Bool in
        try evaluate(parameter.applying(v, to: setup)).fits
      }
      guard let value else { continue }
      let flag = parameter == .rank ? "--rank" : "--seq-len"
      try consider(
        parameter == .rank ? .lowerRank : .shorterSequence, "\(flag) \(value)",
        "\(parameter.label) \(value) instead of \(current)", .capacity,
        fraction: 1 - Double(value) / Double(current), parameter.applying(value, to: setup))
    }
    return found.sorted(by: FitChange.ranked)
  }
}

/// One setup estimated and judged on one GPU (or on each of `gpuCount` GPUs): what every
/// planning command shows for a setup.
public struct Evaluation: Hashable, Sendable {
  public let setup: TrainingSetup
  public let gpu: GPU
  /// nil when the setup's byte counts overflow (it then does not fit).
  public let estimate: MemoryEstimate?
  /// The process peak per GPU (``PeakMemory/process``), the figure the verdict holds against
  /// the capacity; ``ByteCount/overflow`` when the estimate overflowed.
  public let bytes: ByteCount
  /// The estimate's ``MemoryEstimate/verdict``: of ``bytes`` on ``gpu``, or `tight` when the
  /// run exceeds the GPU as simulated but completes once the allocator releases its cache.
  public let verdict: Verdict
  /// The process peak were the caching allocator to hold nothing beyond its tensors: the peak
  /// allocated plus the CUDA context, at most ``bytes``. Unlike ``bytes`` (the simulated reserve
  /// can pick a different segment pattern for a larger setting), it never falls as rank,
  /// sequence length or batch grow (MonotonicityTests), so a planner can bisect on it.
  public let floor: ByteCount
  /// ``Verdict`` of ``floor``: a verdict ``verdict`` is never better than.
  public let floorVerdict: Verdict

  /// Estimates `setup` on `gpu`; an overflowing setup does not fit.
  public init(setup: TrainingSetup, gpu: GPU, model: ModelArchitecture) throws(PlanningError) {
    try self.init(
      setup: setup, gpu: gpu,
      estimated: Result { () throws(SetupError) in try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu) })
  }

  /// `setup` on `gpu` judged from its estimate (or the error that refused it).
  init(setup: TrainingSetup, gpu: GPU, estimated: Result<MemoryEstimate, SetupError>) throws(PlanningError) {
    self.setup = setup
    self.gpu = gpu
    do {
      let estimate = try estimated.get()
      self.estimate = estimate
      let peak = estimate.peak
      bytes = peak.process
      verdict = estimate.verdict ?? Self.verdict(of: bytes, on: gpu, setup: setup)
      floor = peak.allocated + peak.context
      floorVerdict = Self.verdict(of: floor, on: gpu, setup: setup)
    } catch .overflow {
      estimate = nil
      bytes = .overflow
      verdict = .doesNotFit
      floor = .overflow
      floorVerdict = .doesNotFit
    } catch {
      throw .setup(error)
    }
  }

  /// The verdict of a process peak of `peak` for `setup` on `gpu`: the setup's measured margin
  /// (``VerdictMargin/of(_:)``) and the
  /// CUDA context's uncertainty on that GPU (``MemoryEstimate/contextUncertainty``).
  static func verdict(of peak: ByteCount, on gpu: GPU, setup: TrainingSetup) -> Verdict {
    Verdict(
      peak: peak, capacity: gpu.capacity, margin: .of(setup),
      allowance: MemoryEstimate.contextUncertainty(on: gpu, setup.platform))
  }

  /// The usable capacity minus the process peak, negative when over (`Int64.min` when the
  /// peak overflowed).
  public var headroom: Int64 {
    bytes.isOverflow ? Int64.min : gpu.capacity.bytes - bytes.bytes
  }

  /// Whether a planner that accepts verdicts up to `worst` accepts this one.
  public func isAccepted(upTo worst: Verdict) -> Bool { verdict.isAccepted(upTo: worst) }
}

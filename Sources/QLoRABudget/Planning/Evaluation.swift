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
  /// ``Verdict`` of ``bytes`` on ``gpu``.
  public let verdict: Verdict

  /// Estimates `setup` on `gpu`; an overflowing setup does not fit.
  public init(setup: TrainingSetup, gpu: GPU, model: ModelArchitecture) throws(PlanningError) {
    self.setup = setup
    self.gpu = gpu
    do {
      let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
      self.estimate = estimate
      bytes = estimate.peak.process
      verdict = Verdict(peak: bytes, capacity: gpu.capacity)
    } catch .overflow {
      estimate = nil
      bytes = .overflow
      verdict = .doesNotFit
    } catch {
      throw .setup(error)
    }
  }

  /// Whether a planner that accepts verdicts up to `worst` accepts this one.
  public func isAccepted(upTo worst: Verdict) -> Bool { verdict.isAccepted(upTo: worst) }
}

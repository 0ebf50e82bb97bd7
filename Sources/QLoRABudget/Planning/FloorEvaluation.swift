/// A setup judged as a planner's search needs it, without building its estimate: the
/// ``Evaluation/floor`` and ``Evaluation/floorVerdict`` from the estimator's walk alone (no
/// allocator simulation, about a thirtieth of a full estimate's time), and whether the full
/// verdict is accepted (``isAccepted(upTo:)``), simulating the allocator only until its
/// reserve rules the setup out.
///
/// The verdict is always the full evaluation's `floorVerdict`, and the bytes its `floor`
/// unless the full estimate overflows where the floor does not (then that `floor` is
/// ``ByteCount/overflow``; both verdicts reject, since an accepted floor is within a GPU's
/// capacity). The full verdict is never better than the floor's, so a planner bisects on it
/// (``boundVerdict``).
struct FloorEvaluation: Sendable {
  let bytes: ByteCount
  let verdict: Verdict
  /// What a planner bisects on: the floor's verdict, which grows with every searched setting,
  /// except where the loss sizes its chunks from the GPU's free memory (Unsloth's): that floor
  /// falls where a chunk count steps up, so the bound is then the verdict of the floor with the
  /// finest chunks (one token a chunk), which is never above the floor and grows with the
  /// setting. Nothing it rejects can be accepted.
  let boundVerdict: Verdict
  private let setup: TrainingSetup
  private let gpu: GPU
  /// The estimator's walk; nil when it overflowed.
  private let walk: MemoryEstimator.Walk?

  /// `setup`'s floor on `gpu`; an overflowing setup does not fit.
  init(setup: TrainingSetup, gpu: GPU, model: ModelArchitecture) throws(PlanningError) {
    self.setup = setup
    self.gpu = gpu
    do {
      let walk = try MemoryEstimator.Walk(model: model, setup: setup, gpu: gpu)
      self.walk = walk
      bytes = walk.peakCachingNothing.process
    } catch .overflow {
      walk = nil
      bytes = .overflow
    } catch {
      throw .setup(error)
    }
    verdict = Evaluation.verdict(of: bytes, on: gpu, setup: setup)
    boundVerdict =
      MemoryEstimator.Walk.chunksLossByFreeMemory(setup) && walk != nil
      ? Self.finestChunksVerdict(setup: setup, gpu: gpu, model: model) : verdict
  }

  /// The verdict of the floor with the loss in chunks of one token.
  private static func finestChunksVerdict(setup: TrainingSetup, gpu: GPU, model: ModelArchitecture) -> Verdict {
    guard let walk = try? MemoryEstimator.Walk(model: model, setup: setup, gpu: gpu, lossChunkBudget: .zero) else {
      return .doesNotFit
    }
    return Evaluation.verdict(of: walk.peakCachingNothing.process, on: gpu, setup: setup)
  }

  /// Whether a planner accepting verdicts up to `worst` accepts the full evaluation's verdict:
  /// the same answer as ``Evaluation/isAccepted(upTo:)`` (FloorEvaluationTests). The process
  /// peak is the larger of the allocated and reserved peaks plus the CUDA context; with the
  /// floor (allocated plus context) accepted, the verdict is accepted exactly when the reserve
  /// stays within the largest accepted process peak less the context, which the simulation
  /// stops at as soon as it passes. Past the capacity, a run that completes once the allocator
  /// releases its cache is `tight` (``Verdict``), so a planner accepting `tight` replays it
  /// within the capacity to see whether it completes.
  func isAccepted(upTo worst: Verdict) -> Bool {
    guard verdict.isAccepted(upTo: worst), let walk else { return false }
    let peak = walk.peakCachingNothing
    let context = peak.context
    // The verdict grows with the peak: the largest accepted peak, from the floor (accepted) up.
    guard
      let largest = Bisection.largest(
        in: bytes.bytes...max(bytes.bytes, gpu.capacity.bytes),
        where: { Evaluation.verdict(of: ByteCount($0), on: gpu, setup: setup).isAccepted(upTo: worst) })
    else { return false }
    guard walk.reserveExceeds(ByteCount(largest) - context) else { return true }
    return Verdict.tight.isAccepted(upTo: worst) && walk.completesReleasingCache(within: gpu.capacity - context)
  }
}

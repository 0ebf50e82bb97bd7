/// A setup's ``Evaluation/floor`` and ``Evaluation/floorVerdict`` alone, from the estimator's
/// walk without the allocator simulation (``MemoryEstimator/peakCachingNothing(model:setup:gpu:)``,
/// about a thirtieth of a full estimate's time). The verdict is always the full evaluation's
/// `floorVerdict`, and the bytes its `floor` unless the full estimate overflows where the floor
/// does not (then that `floor` is ``ByteCount/overflow``; both verdicts reject, since an
/// accepted floor is within a GPU's capacity). The verdict is never better than the floor's,
/// so a planner bisects on this and simulates only the setups it does not rule out.
struct FloorEvaluation: Hashable, Sendable {
  let bytes: ByteCount
  let verdict: Verdict

  /// `setup`'s floor on `gpu`; an overflowing setup does not fit.
  init(setup: TrainingSetup, gpu: GPU, model: ModelArchitecture) throws(PlanningError) {
    do {
      bytes = try MemoryEstimator.peakCachingNothing(model: model, setup: setup, gpu: gpu).process
    } catch .overflow {
      bytes = .overflow
    } catch {
      throw .setup(error)
    }
    verdict = Evaluation.verdict(of: bytes, on: gpu, setup: setup)
  }

  /// The full evaluation's floor.
  init(_ evaluation: Evaluation) {
    bytes = evaluation.floor
    verdict = evaluation.floorVerdict
  }
}

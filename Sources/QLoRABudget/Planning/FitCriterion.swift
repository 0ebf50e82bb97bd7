/// What "fits" means to the planners: which figure of an estimate is held against a GPU's
/// capacity, and whether a tight verdict counts.
///
/// | measure | bytes | fits when |
/// | --- | --- | --- |
/// | `peak` | ``PeakMemory/process`` (what nvidia-smi shows) | ``Verdict`` is `fits` (or `tight` with ``allowsTight``) |
/// | `resident` | ``MemoryEstimate/residentBytes`` (a lower bound: no activations, logits or runtime) | bytes <= capacity |
///
/// ``automatic`` uses the peak when the estimator models it and the resident bytes otherwise,
/// and says which one it used, so a planner never silently mixes the two.
public struct FitCriterion: Hashable, Sendable {
  public enum Measure: String, CaseIterable, Hashable, Sendable {
    /// The process peak of a steady-state step, with its uncertainty (the fit verdict).
    case peak
    /// Only the bytes resident for the whole run: a lower bound on what the GPU must hold.
    case resident

    /// How the measure is named in text output.
    public var label: String {
      switch self {
      case .peak: return "peak process memory"
      case .resident: return "resident GPU memory (a lower bound: the transient peak is not counted)"
      }
    }
  }

  /// nil: the peak when the estimate has one, else the resident bytes.
  public var measure: Measure?
  /// Whether a `tight` verdict (capacity inside the uncertainty band) counts as fitting.
  public var allowsTight: Bool

  public init(measure: Measure? = nil, allowsTight: Bool = false) {
    self.measure = measure
    self.allowsTight = allowsTight
  }

  /// The peak when modelled, else the resident bytes.
  public static let automatic = FitCriterion()

  /// The measure this criterion applies to `estimate`.
  public func resolvedMeasure(for estimate: MemoryEstimate) -> Measure {
    measure ?? (estimate.peak == nil ? .resident : .peak)
  }

  /// The bytes of `estimate` held against the capacity, and their relative uncertainty.
  ///
  /// - Throws: ``PlanningError/peakNotModelled`` when the peak is asked for but not modelled.
  public func bytes(of estimate: MemoryEstimate) throws(PlanningError) -> (bytes: ByteCount, uncertainty: Double) {
    switch resolvedMeasure(for: estimate) {
    case .resident:
      return (estimate.residentBytes, 0)
    case .peak:
      guard let peak = estimate.peak else { throw .peakNotModelled }
      return (peak.process, peak.uncertainty)
    }
  }

  /// Whether `bytes` (with its uncertainty) fits `capacity` under this criterion.
  public func fits(_ bytes: ByteCount, uncertainty: Double, capacity: ByteCount) -> Bool {
    let verdict = Verdict(peak: bytes, capacity: capacity, uncertainty: uncertainty)
    return verdict == .fits || (allowsTight && verdict == .tight)
  }

  /// Whether `estimate` fits `capacity` under this criterion.
  public func fits(_ estimate: MemoryEstimate, capacity: ByteCount) throws(PlanningError) -> Bool {
    let (bytes, uncertainty) = try self.bytes(of: estimate)
    return fits(bytes, uncertainty: uncertainty, capacity: capacity)
  }
}

/// Why a planning question cannot be answered.
public enum PlanningError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The criterion asks for the peak, which the estimator does not model yet.
  case peakNotModelled
  /// The setup itself is invalid (the estimator refused it).
  case setup(SetupError)
  /// The question does not apply to this setup (e.g. the rank of full fine-tuning).
  case notApplicable(String)

  public var description: String {
    switch self {
    case .peakNotModelled:
      return "the peak of a training step is not modelled yet; plan against the resident bytes instead (--fit-by resident)"
    case .setup(let error): return error.description
    case .notApplicable(let reason): return reason
    }
  }
}

/// Why a planning question cannot be answered.
public enum PlanningError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The setup itself is invalid (the estimator refused it).
  case setup(SetupError)
  /// The question does not apply to this setup (e.g. the rank of full fine-tuning).
  case notApplicable(String)

  public var description: String {
    switch self {
    case .setup(let error): return error.description
    case .notApplicable(let reason): return reason
    }
  }
}

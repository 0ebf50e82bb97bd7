/// Why a planning question cannot be answered.
public enum PlanningError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The setup itself is invalid (the estimator refused it).
  case setup(SetupError)
  /// The question does not apply to this setup (e.g. the rank of full fine-tuning).
  case notApplicable(String)
  /// A grid with more cells than ``PlanningGrid/maximumCells`` (nil: more than `Int` holds).
  case tooManyCells(count: Int?, limit: Int)

  public var description: String {
    switch self {
    case .setup(let error): return error.description
    case .notApplicable(let reason): return reason
    case .tooManyCells(let count, let limit):
      let counted = count.map(String.init) ?? "more than \(Int.max)"
      return "the table has \(counted) cells (models x ranks x sequence lengths x GPUs), over the limit of \(limit)"
    }
  }
}

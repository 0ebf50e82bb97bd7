/// A planning table: every model x LoRA rank x sequence length of a base setup, each judged
/// on every GPU. `table` renders it; its cells are the same ``Evaluation`` `fit` prints.
public struct PlanningGrid: Sendable {
  /// One model, rank and sequence length, judged on each GPU in ``PlanningGrid/gpus`` order.
  public struct Row: Sendable {
    public let model: ModelArchitecture
    public let setup: TrainingSetup
    public let cells: [Evaluation]
  }

  public let gpus: [GPU]
  public let rows: [Row]

  /// Cells (model x rank x sequence length x GPU) in one grid at most: each holds an estimate
  /// (a few KB), so 10^6 cells took 7.6 GB before this limit.
  public static let maximumCells = 10_000

  /// The cell count of a grid of these list lengths (a full fine-tune has one rank), or
  /// ``PlanningError/tooManyCells(count:limit:)`` over ``maximumCells``. Callers can check the
  /// lists before resolving their models.
  public static func checkedCellCount(models: Int, ranks: Int, sequenceLengths: Int, gpus: Int, fullFineTune: Bool) throws(PlanningError) -> Int {
    var count = 1
    var overflow = false
    for factor in [models, fullFineTune ? 1 : ranks, sequenceLengths, gpus] where !overflow {
      (count, overflow) = count.multipliedReportingOverflow(by: max(factor, 0))
    }
    guard !overflow, count <= maximumCells else { throw .tooManyCells(count: overflow ? nil : count, limit: maximumCells) }
    return count
  }

  /// Models vary slowest, then ranks, then sequence lengths. Full fine-tuning has no rank:
  /// its rows take the base setup's rank only once.
  public init(
    models: [ModelArchitecture], ranks: [Int64], sequenceLengths: [Int64], gpus: [GPU], base: TrainingSetup
  ) throws(PlanningError) {
    _ = try Self.checkedCellCount(
      models: models.count, ranks: ranks.count, sequenceLengths: sequenceLengths.count, gpus: gpus.count, fullFineTune: base.isFullFineTune)
    self.gpus = gpus
    var rows: [Row] = []
    for model in models {
      for rank in base.isFullFineTune ? [base.lora.rank] : ranks {
        for length in sequenceLengths {
          let setup = SettingChange.apply([.rank(rank), .sequenceLength(length)], to: base)
          var cells: [Evaluation] = []
          for gpu in gpus { cells.append(try Evaluation(setup: setup, gpu: gpu, model: model)) }
          rows.append(Row(model: model, setup: setup, cells: cells))
        }
      }
    }
    self.rows = rows
  }
}

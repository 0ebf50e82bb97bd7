/// A planning table: every model x LoRA rank x sequence length of a base setup, each judged
/// on every GPU. `table` renders it; its cells are the same ``Evaluation`` `fit` prints.
///
/// Rows are computed one at a time (``rows()``): a renderer that writes each row as it comes
/// holds one row's estimates, whatever the cell count, so memory stays flat in the table's size.
public struct PlanningGrid: Sendable {
  /// One model, rank and sequence length, judged on each GPU in ``PlanningGrid/gpus`` order.
  public struct Row: Sendable {
    public let model: ModelArchitecture
    public let setup: TrainingSetup
    public let cells: [Evaluation]
  }

  public let models: [ModelArchitecture]
  public let gpus: [GPU]
  /// The ranks of the rows: the base setup's alone for a full fine-tune (it has no rank).
  public let ranks: [Int64]
  public let sequenceLengths: [Int64]
  public let base: TrainingSetup
  /// Cells (model x rank x sequence length x GPU).
  public let cellCount: Int

  /// Cells in one grid at most. Rows stream, so memory does not grow with the cells; the bound
  /// is time: each cell is a full estimate with the allocator simulated over its run (a few
  /// hundred microseconds to a few milliseconds a cell, docs/performance.md), so a grid at the
  /// limit runs for minutes to an hour.
  public static let maximumCells = 1_000_000

  /// The cell count of a grid of these list lengths (a full fine-tune has one rank), or
  /// ``PlanningError/tooManyCells(count:limit:)`` over ``maximumCells``. Callers can check the
  /// lists before resolving their models.
  public static func checkedCellCount(models: Int, ranks: Int, sequenceLengths: Int, gpus: Int, fullFineTune: Bool)
    throws(PlanningError) -> Int
  {
    var count = 1
    var overflow = false
    for factor in [models, fullFineTune ? 1 : ranks, sequenceLengths, gpus] where !overflow {
      (count, overflow) = count.multipliedReportingOverflow(by: max(factor, 0))
    }
    guard !overflow, count <= maximumCells else {
      throw .tooManyCells(count: overflow ? nil : count, limit: maximumCells)
    }
    return count
  }

  /// Models vary slowest, then ranks, then sequence lengths. Full fine-tuning has no rank:
  /// its rows take the base setup's rank only once. Estimates nothing yet (``rows()``).
  public init(
    models: [ModelArchitecture], ranks: [Int64], sequenceLengths: [Int64], gpus: [GPU], base: TrainingSetup
  ) throws(PlanningError) {
    cellCount = try Self.checkedCellCount(
      models: models.count, ranks: ranks.count, sequenceLengths: sequenceLengths.count, gpus: gpus.count,
      fullFineTune: base.isFullFineTune)
    self.models = models
    self.ranks = base.isFullFineTune ? [base.lora.rank] : ranks
    self.sequenceLengths = sequenceLengths
    self.gpus = gpus
    self.base = base
  }

  /// The setup of one row.
  public func setup(rank: Int64, sequenceLength: Int64) -> TrainingSetup {
    SettingChange.apply([.rank(rank), .sequenceLength(sequenceLength)], to: base)
  }

  /// Estimates one cell of each model (its first rank and length on the first GPU), so that a
  /// setup the estimator refuses for a model is reported before a renderer writes any row.
  public func check() throws(PlanningError) {
    guard let rank = ranks.first, let length = sequenceLengths.first, let gpu = gpus.first else { return }
    for model in models { _ = try Evaluation(setup: setup(rank: rank, sequenceLength: length), gpu: gpu, model: model) }
  }

  /// The rows in order, each estimated when it is reached.
  public func rows() -> Rows { Rows(grid: self) }

  /// The rows of a grid, one at a time.
  public struct Rows: Sendable {
    private let grid: PlanningGrid
    private var model = 0
    private var rank = 0
    private var length = 0

    init(grid: PlanningGrid) { self.grid = grid }

    /// The next row, estimated on every GPU; nil after the last.
    public mutating func next() throws(PlanningError) -> Row? {
      guard model < grid.models.count, !grid.ranks.isEmpty, !grid.sequenceLengths.isEmpty else { return nil }
      let architecture = grid.models[model]
      let setup = grid.setup(rank: grid.ranks[rank], sequenceLength: grid.sequenceLengths[length])
      var cells: [Evaluation] = []
      for gpu in grid.gpus { cells.append(try Evaluation(setup: setup, gpu: gpu, model: architecture)) }
      length += 1
      if length == grid.sequenceLengths.count { (length, rank) = (0, rank + 1) }
      if rank == grid.ranks.count { (rank, model) = (0, model + 1) }
      return Row(model: architecture, setup: setup, cells: cells)
    }
  }
}

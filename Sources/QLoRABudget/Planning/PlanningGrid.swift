import Foundation

/// A planning table: every model x LoRA rank x sequence length of a base setup, each judged
/// on every GPU. `table` renders it; its cells are the same ``Evaluation`` `fit` prints.
///
/// Rows are computed a few at a time (``rows()``): a renderer that writes each row as it comes
/// holds a few rows' estimates, whatever the cell count, so memory stays flat in the table's size.
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

  /// The rows in order, estimated a few at a time as they are reached.
  public func rows() -> Rows { Rows(grid: self) }

  /// The rows of a grid, one at a time. Rows are estimated in batches of ``Rows/batch``, one
  /// row per core (each row's GPUs in turn, so those whose runs share a schedule share its
  /// replay through ``ReplayMemo``), and handed out in order: the answers are the ones a row at a
  /// time gives, an error surfaces at its row, and memory holds one batch whatever the cell count.
  public struct Rows: Sendable {
    /// Rows estimated together: one per core, at most 4, so that each row's replay is still in
    /// ``ReplayMemo`` (8 runs) when its other GPUs ask for it.
    static let batch = min(4, max(1, ProcessInfo.processInfo.activeProcessorCount))

    private let grid: PlanningGrid
    private let count: Int
    /// The next row to estimate, in models x ranks x sequence lengths order.
    private var upcoming = 0
    /// Rows estimated and not yet handed out, in order.
    private var ready: ArraySlice<Result<Row, PlanningError>> = []

    init(grid: PlanningGrid) {
      self.grid = grid
      // A grid with no GPU has no cell to bound its rows: the product may not fit in an Int.
      let (perModel, overflowed) = grid.ranks.count.multipliedReportingOverflow(by: grid.sequenceLengths.count)
      let (rows, overflowedAgain) = perModel.multipliedReportingOverflow(by: grid.models.count)
      count = overflowed || overflowedAgain ? Int.max : rows
    }

    /// The next row, estimated on every GPU; nil after the last.
    public mutating func next() throws(PlanningError) -> Row? {
      if ready.isEmpty {
        guard upcoming < count else { return nil }
        let first = upcoming
        let size = min(Self.batch, count - first)
        upcoming += size
        let grid = self.grid
        ready =
          ConcurrentResults<Row>.run(count: size) { (offset: Int) throws(PlanningError) in
            try grid.row(first + offset)
          }.results()[...]
      }
      return try ready.removeFirst().get()
    }
  }

  /// Row `index` (models vary slowest, then ranks, then sequence lengths), estimated on every GPU.
  func row(_ index: Int) throws(PlanningError) -> Row {
    let length = sequenceLengths[index % sequenceLengths.count]
    let rank = ranks[index / sequenceLengths.count % ranks.count]
    let model = models[index / sequenceLengths.count / ranks.count]
    let setup = setup(rank: rank, sequenceLength: length)
    var cells: [Evaluation] = []
    for (gpu, estimated) in zip(gpus, MemoryEstimator.estimates(model: model, setup: setup, gpus: gpus)) {
      cells.append(try Evaluation(setup: setup, gpu: gpu, estimated: estimated))
    }
    return Row(model: model, setup: setup, cells: cells)
  }
}

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

  /// Models vary slowest, then ranks, then sequence lengths. Full fine-tuning has no rank:
  /// its rows take the base setup's rank only once.
  public init(
    models: [ModelArchitecture], ranks: [Int64], sequenceLengths: [Int64], gpus: [GPU], base: TrainingSetup
  ) throws(PlanningError) {
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

import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The grid's rows, estimated a batch at a time on several cores, are the rows estimated one
/// cell at a time in order.
@Suite struct PlanningGridTests {
  /// 2 models x 3 ranks x 3 lengths: 18 rows, not a multiple of the batch, on two GPUs whose
  /// runs share a schedule (both before Hopper) and one whose run does not: every cell is the
  /// evaluation made on its own, row after row in models x ranks x lengths order.
  @Test func batchedRowsAreTheCellsEstimatedOneByOne() throws {
    let models = try ["qwen3-0.6b", "llama-3.2-1b"].map { try PresetCatalog.bundled.model(named: $0) }
    let gpus = try ["t4", "rtx-4090", "h100-80gb"].map { try PresetCatalog.bundled.gpu(named: $0) }
    var base = TrainingSetup()
    base.computeDtype = .fp16
    let ranks: [Int64] = [8, 16, 64]
    let lengths: [Int64] = [512, 2048, 8192]
    let grid = try PlanningGrid(models: models, ranks: ranks, sequenceLengths: lengths, gpus: gpus, base: base)
    let rows = try grid.allRows()
    #expect(rows.count == 18)
    var index = 0
    for model in models {
      for rank in ranks {
        for length in lengths {
          var setup = base
          setup.lora.rank = rank
          setup.sequenceLength = length
          let row = rows[index]
          #expect(row.model.name == model.name && row.setup == setup, "row \(index)")
          let expected = try gpus.map { try Evaluation(setup: setup, gpu: $0, model: model) }
          #expect(row.cells == expected, "\(model.name) r=\(rank) \(length)")
          index += 1
        }
      }
    }
    #expect(index == rows.count)
  }

  /// A setup the estimator refuses fails at its row, after the rows before it were handed out.
  @Test func anErrorSurfacesAtItsRow() throws {
    let model = try PresetCatalog.bundled.model(named: "qwen3-0.6b")
    let gpu = try PresetCatalog.bundled.gpu(named: "rtx-4090")
    var base = TrainingSetup()
    base.sequenceLength = 512
    // Rank 0 is not a LoRA rank: the grid's second row is refused.
    let grid = try PlanningGrid(models: [model], ranks: [8, 0, 16], sequenceLengths: [512], gpus: [gpu], base: base)
    var rows = grid.rows()
    #expect(try rows.next()?.setup.lora.rank == 8)
    #expect(throws: PlanningError.self) { try rows.next() }
  }
}

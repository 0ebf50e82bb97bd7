import QLoRABudget
import QLoRABudgetInputs

/// `qlora-budget table --models A,B --ranks 8,16 --seq-lens 1024,2048 --gpu X,Y`: the library's
/// ``PlanningGrid`` as Markdown, CSV or JSON: one row per model, rank and sequence length, one
/// column per GPU, each cell the peak and the verdict `fit` gives. The tables in docs/tables/
/// are written by docs/tables/regenerate.sh.
enum TableCommand: Command {
  static let name = "table"
  static let summary = "Write a planning table: models x ranks x seq lens x GPUs."
  static let arguments = "--models <m,...> --gpu <g,...> [options]"

  /// The output formats.
  enum Format: String, CaseIterable { case markdown, csv, json }

  static let ranks = OptionSpec.value("--ranks", "ranks", "LoRA ranks joined by commas.", default: "the --rank value")
  static let lengths = OptionSpec.value(
    "--seq-lens", "tokens", "Sequence lengths joined by commas.", default: "the --seq-len value")
  static let format = OptionSpec.value(
    "--format", "format", "Output format.", values: Format.allCases.map(\.rawValue), default: "markdown")
  static let json = OptionSpec.flag("--json", "The same as --format json.")
  static let options: [OptionSpec] =
    [
      EstimateRequest.modelList, EstimateRequest.gpuOption("gpus", "GPU presets or capacities joined by commas."),
      ranks, lengths, format, PlanningOptions.svg, PlanningOptions.force,
    ] + ModelSourceOptions.specs + SetupOptions.specs + [json]

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    // A training config gives the base setup (the flags override it) and, without --models, the model.
    let request = try EstimateRequest(arguments, context, models: .list, gpus: .list)
    let (models, gpus, base) = (request.models.map(\.model), request.gpus, request.setup)
    let format = arguments.has(json) ? .json : try arguments.choice(Self.format, as: Format.self) ?? .markdown
    let ranks = try PlanningOptions.integers(arguments, Self.ranks, of: .rank) ?? [base.lora.rank]
    let lengths = try PlanningOptions.integers(arguments, Self.lengths, of: .sequenceLength) ?? [base.sequenceLength]
    _ = try PlanningOptions.run { () throws(PlanningError) in
      try PlanningGrid.checkedCellCount(
        models: models.count, ranks: ranks.count, sequenceLengths: lengths.count, gpus: gpus.count,
        fullFineTune: base.isFullFineTune)
    }
    for model in models { for warning in model.warnings { context.warn(warning) } }
    PlanningOptions.warnIncompatibilities(gpus.map { (base, $0) }, context)

    let grid = try PlanningOptions.run { () throws(PlanningError) in
      let grid = try PlanningGrid(models: models, ranks: ranks, sequenceLengths: lengths, gpus: gpus, base: base)
      try grid.check()
      return grid
    }
    // Rows are written as they are estimated (memory flat in the cell count); the chart keeps
    // only each row's bytes.
    var rows = grid.rows()
    var points: [ChartRow] = []
    let chartWanted = arguments.value(PlanningOptions.svg) != nil
    func write(_ render: (PlanningGrid.Row, Bool) -> String) throws {
      var first = true
      while let row = try PlanningOptions.run({ () throws(PlanningError) in try rows.next() }) {
        context.standardOutput(render(row, first))
        first = false
        if chartWanted { points.append(ChartRow(row)) }
      }
    }
    switch format {
    case .json:
      context.standardOutput(
        "{\n  \"margin\": " + EstimateJSON.margin(.of(base)).rendered(indent: 2) + ",\n  \"rows\": [")
      var empty = true
      try write { row, first in
        empty = false
        return (first ? "\n    " : ",\n    ") + json(row).rendered(indent: 4)
      }
      context.print((empty ? "]" : "\n  ]") + "\n}")
    case .csv:
      context.standardOutput(csvHeader(grid.gpus))
      try write { row, _ in csv(row) }
    case .markdown:
      context.standardOutput(markdownHeader(grid.gpus))
      try write { row, _ in markdown(row) }
      context.standardOutput(markdownNote(base))
    }
    if let path = arguments.value(PlanningOptions.svg) {
      try PlanningOptions.write(
        chart(points, gpus: grid.gpus, byLength: lengths.count > 1, margin: .of(base)), to: path, arguments)
    }
    return .success
  }

  static func gib(_ bytes: ByteCount) -> String { EstimateText.gib(bytes) }

  static func markdownHeader(_ gpus: [GPU]) -> String {
    "| Model | Rank | Seq len | "
      + gpus.map { "\(CommandLineTool.oneLine($0.name)) (\(ByteCount.fixed($0.capacity.gibibytes, decimals: 1)) GiB)" }
      .joined(separator: " | ") + " |\n"
      + "| --- | ---: | ---: | " + gpus.map { _ in "---:" }.joined(separator: " | ") + " |\n"
  }

  static func markdown(_ row: PlanningGrid.Row) -> String {
    "| \(CommandLineTool.oneLine(row.model.name)) | \(row.setup.isFullFineTune ? "-" : String(row.setup.lora.rank)) | \(row.setup.sequenceLength) | "
      + row.cells.map { "\(gib($0.bytes)) \($0.verdict.label)" }.joined(separator: " | ") + " |\n"
  }

  static func markdownNote(_ base: TrainingSetup) -> String {
    let gpuCount = base.gpuCount
    // The engine the table's setup runs (FSDP by its short name, as the note always wrote it).
    let engine = base.engine == .fsdp ? "FSDP" : base.engine.label
    let note =
      "GiB (2^30 bytes) of peak process memory" + (gpuCount > 1 ? ", per GPU of \(gpuCount) with \(engine)" : "")
      + "; " + VerdictText.definition + ". Setup: " + CompareCommand.describe(base, varying: true) + "."
    return ([""] + HelpText.wrap(note, width: 80)).joined(separator: "\n") + "\n"
  }

  static func csvHeader(_ gpus: [GPU]) -> String {
    "model,rank,seq_len,"
      + gpus.map { "\(CommandLineTool.oneLine($0.name))_bytes,\(CommandLineTool.oneLine($0.name))_verdict" }.joined(
        separator: ",") + "\n"
  }

  static func csv(_ row: PlanningGrid.Row) -> String {
    "\(CommandLineTool.oneLine(row.model.name)),\(row.setup.lora.rank),\(row.setup.sequenceLength),"
      + row.cells.map { "\($0.bytes.bytes),\($0.verdict.rawValue)" }.joined(separator: ",") + "\n"
  }

  static func json(_ row: PlanningGrid.Row) -> JSONOutput {
    .object([
      ("model", .string(row.model.name)), ("rank", .integer(row.setup.lora.rank)),
      ("seq_len", .integer(row.setup.sequenceLength)), ("setup", EstimateJSON.setup(row.setup)),
      ("gpus", .array(row.cells.map(EstimateJSON.evaluation))),
    ])
  }

  /// What the chart needs of a row: its model, rank, length and each GPU's bytes.
  struct ChartRow {
    let model: String
    let rank: Int64
    let sequenceLength: Int64
    let bytes: [ByteCount]

    init(_ row: PlanningGrid.Row) {
      model = row.model.name
      rank = row.setup.lora.rank
      sequenceLength = row.setup.sequenceLength
      bytes = row.cells.map(\.bytes)
    }
  }

  /// Memory against sequence length (several lengths) or rank: one line per model and GPU,
  /// each with its GPU's capacity line.
  static func chart(_ rows: [ChartRow], gpus: [GPU], byLength: Bool, margin: VerdictMargin) -> String {
    var series: [SVGChart.Series] = []
    let first = rows.first
    for (index, gpu) in gpus.enumerated() {
      var byModel: [String: [(Int64, ByteCount)]] = [:]
      var order: [String] = []
      for row in rows where byLength ? row.rank == first?.rank : row.sequenceLength == first?.sequenceLength {
        if byModel[row.model] == nil { order.append(row.model) }
        let x = byLength ? row.sequenceLength : row.rank
        if !row.bytes[index].isOverflow { byModel[row.model, default: []].append((x, row.bytes[index])) }
      }
      for model in order {
        series.append(SVGChart.Series(label: "\(model) on \(gpu.name)", points: byModel[model] ?? []))
      }
    }
    let fixed = byLength ? "r=\(first?.rank ?? 0)" : "\(first?.sequenceLength ?? 0) tokens"
    return SVGChart.lines(
      title: "Peak process memory against " + (byLength ? "sequence length" : "rank") + " (\(fixed))",
      xLabel: byLength ? "sequence length" : "LoRA rank", series: series,
      capacities: gpus.map { ($0.name, $0.capacity) }, margin: margin)
  }
}

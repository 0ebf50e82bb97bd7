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
  static let lengths = OptionSpec.value("--seq-lens", "tokens", "Sequence lengths joined by commas.", default: "the --seq-len value")
  static let format = OptionSpec.value("--format", "format", "Output format.", values: Format.allCases.map(\.rawValue), default: "markdown")
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
        models: models.count, ranks: ranks.count, sequenceLengths: lengths.count, gpus: gpus.count, fullFineTune: base.isFullFineTune)
    }
    for model in models { for warning in model.warnings { context.warn(warning) } }
    PlanningOptions.warnIncompatibilities(gpus.map { (base, $0) }, context)

    let grid = try PlanningOptions.run { () throws(PlanningError) in
      try PlanningGrid(models: models, ranks: ranks, sequenceLengths: lengths, gpus: gpus, base: base)
    }
    if let path = arguments.value(PlanningOptions.svg) {
      try PlanningOptions.write(chart(grid, byLength: lengths.count > 1), to: path, arguments)
    }
    switch format {
    case .json: context.print(json(grid).rendered())
    case .csv: context.standardOutput(csv(grid))
    case .markdown: context.standardOutput(markdown(grid, base: base))
    }
    return .success
  }

  static func gib(_ bytes: ByteCount) -> String { EstimateText.gib(bytes) }

  static func markdown(_ grid: PlanningGrid, base: TrainingSetup) -> String {
    var lines = ["| Model | Rank | Seq len | "
      + grid.gpus.map { "\(CommandLineTool.oneLine($0.name)) (\(ByteCount.fixed($0.capacity.gibibytes, decimals: 1)) GiB)" }.joined(separator: " | ") + " |"]
    lines.append("| --- | ---: | ---: | " + grid.gpus.map { _ in "---:" }.joined(separator: " | ") + " |")
    for row in grid.rows {
      lines.append(
        "| \(CommandLineTool.oneLine(row.model.name)) | \(row.setup.isFullFineTune ? "-" : String(row.setup.lora.rank)) | \(row.setup.sequenceLength) | "
          + row.cells.map { "\(gib($0.bytes)) \($0.verdict.label)" }.joined(separator: " | ") + " |")
    }
    lines.append("")
    let gpuCount = base.gpuCount
    // The engine the table's setup runs (FSDP by its short name, as the note always wrote it).
    let engine = base.engine == .fsdp ? "FSDP" : base.engine.label
    let note = "GiB (2^30 bytes) of peak process memory" + (gpuCount > 1 ? ", per GPU of \(gpuCount) with \(engine)" : "")
      + "; " + VerdictText.definition + ". Setup: " + CompareCommand.describe(base, varying: true) + "."
    lines += HelpText.wrap(note, width: 80)
    return lines.joined(separator: "\n") + "\n"
  }

  static func csv(_ grid: PlanningGrid) -> String {
    var lines = ["model,rank,seq_len," + grid.gpus.map { "\(CommandLineTool.oneLine($0.name))_bytes,\(CommandLineTool.oneLine($0.name))_verdict" }.joined(separator: ",")]
    for row in grid.rows {
      lines.append("\(CommandLineTool.oneLine(row.model.name)),\(row.setup.lora.rank),\(row.setup.sequenceLength),"
        + row.cells.map { "\($0.bytes.bytes),\($0.verdict.rawValue)" }.joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  static func json(_ grid: PlanningGrid) -> JSONOutput {
    .object([
      ("margin", EstimateJSON.margin()),
      ("rows", .array(grid.rows.map { row in
        .object([
          ("model", .string(row.model.name)), ("rank", .integer(row.setup.lora.rank)),
          ("seq_len", .integer(row.setup.sequenceLength)), ("setup", EstimateJSON.setup(row.setup)),
          ("gpus", .array(row.cells.map(EstimateJSON.evaluation))),
        ])
      })),
    ])
  }

  /// Memory against sequence length (several lengths) or rank: one line per model and GPU,
  /// each with its GPU's capacity line.
  static func chart(_ grid: PlanningGrid, byLength: Bool) -> String {
    var series: [SVGChart.Series] = []
    let first = grid.rows.first?.setup
    for (index, gpu) in grid.gpus.enumerated() {
      var byModel: [String: [(Int64, ByteCount)]] = [:]
      var order: [String] = []
      for row in grid.rows where byLength ? row.setup.lora.rank == first?.lora.rank : row.setup.sequenceLength == first?.sequenceLength {
        if byModel[row.model.name] == nil { order.append(row.model.name) }
        let x = byLength ? row.setup.sequenceLength : row.setup.lora.rank
        if !row.cells[index].bytes.isOverflow { byModel[row.model.name, default: []].append((x, row.cells[index].bytes)) }
      }
      for model in order { series.append(SVGChart.Series(label: "\(model) on \(gpu.name)", points: byModel[model] ?? [])) }
    }
    let fixed = byLength ? "r=\(first?.lora.rank ?? 0)" : "\(first?.sequenceLength ?? 0) tokens"
    return SVGChart.lines(
      title: "Peak process memory against " + (byLength ? "sequence length" : "rank") + " (\(fixed))",
      xLabel: byLength ? "sequence length" : "LoRA rank", series: series,
      capacities: grid.gpus.map { ($0.name, $0.capacity) })
  }
}

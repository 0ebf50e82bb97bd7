import QLoRABudget

/// `qlora-budget table --models A,B --ranks 8,16 --seq-lens 1024,2048 --gpu X,Y`: a planning
/// table, one row per model, rank and sequence length, one column per GPU, as Markdown, CSV or
/// JSON. The tables in docs/tables/ are written by docs/tables/regenerate.sh.
enum TableCommand: Command {
  static let name = "table"
  static let summary = "Write a planning table: models x ranks x seq lens x GPUs."
  static let arguments = "--models <m,...> --gpu <g,...> [options]"
  static let formats = ["markdown", "csv", "json"]
  static let options: [OptionSpec] =
    [
      .value("--models", "models", "Model presets or config paths joined by commas."),
      .value("--gpu", "gpus", "GPU presets or capacities joined by commas."),
      .value("--ranks", "ranks", "LoRA ranks joined by commas.", default: "the --rank value"),
      .value("--seq-lens", "tokens", "Sequence lengths joined by commas.", default: "the --seq-len value"),
      .value("--format", "format", "Output format.", values: formats, default: "markdown"),
    ] + PlanningOptions.specs + [PlanningOptions.svg] + SetupOptions.specs
    + [.flag("--json", "The same as --format json.")]

  struct Cell {
    let gpu: GPU
    let evaluation: Planner.Evaluation
  }

  struct Row {
    let model: ModelArchitecture
    let rank: Int64
    let sequenceLength: Int64
    let cells: [Cell]
  }

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    try arguments.expectPositionals(atMost: 0)
    guard let modelNames = try PlanningOptions.list(arguments, "--models") else {
      throw UsageError("Missing '--models <m,m...>': model presets joined by commas.", command: name)
    }
    guard let gpuNames = try PlanningOptions.list(arguments, "--gpu") else {
      throw UsageError("Missing '--gpu <gpu,gpu...>': GPU presets or capacities joined by commas.", command: name)
    }
    let format = arguments.has("--json") ? "json" : (arguments.value("--format") ?? "markdown").lowercased()
    guard formats.contains(format) else {
      let hint = Suggestions.closest(to: format, among: formats, limit: 1).first.map { " Did you mean '\($0)'?" } ?? ""
      throw UsageError.invalidValue(format, for: "--format", "use one of \(formats.joined(separator: ", ")).\(hint)")
    }
    let base = try SetupOptions.setup(from: arguments)
    let ranks = try PlanningOptions.integers(arguments, "--ranks", in: 1...LoRAConfiguration.maximumRank) ?? [base.lora.rank]
    let lengths = try PlanningOptions.integers(arguments, "--seq-lens", in: 1...TrainingSetup.maximumSequenceLength)
      ?? [base.sequenceLength]
    let criterion = try PlanningOptions.criterion(arguments)
    let gpuCount = try PlanningOptions.gpuCount(arguments)
    var models: [ModelArchitecture] = []
    for modelName in modelNames { models.append(try SetupOptions.model(modelName, arguments, presets: context.presets)) }
    var gpus: [GPU] = []
    for gpuName in gpuNames { gpus.append(try SetupOptions.gpu(gpuName, presets: context.presets)) }
    for model in models { for warning in model.warnings { context.warn(warning) } }
    PlanningOptions.warnIncompatibilities(gpus.map { (base, $0) }, context)

    var rows: [Row] = []
    for model in models {
      for rank in ranks {
        for length in lengths {
          var setup = base
          setup.lora.rank = rank
          setup.sequenceLength = length
          var cells: [Cell] = []
          for gpu in gpus {
            let planner = Planner(model: model, setup: setup, gpu: gpu, criterion: criterion, gpuCount: gpuCount)
            cells.append(Cell(gpu: gpu, evaluation: try PlanningOptions.run { () throws(PlanningError) in try planner.evaluate(setup) }))
          }
          rows.append(Row(model: model, rank: rank, sequenceLength: length, cells: cells))
        }
      }
    }
    let measure = rows.first?.cells.first?.evaluation.measure ?? .resident
    if let path = arguments.value("--svg") {
      try PlanningOptions.write(chart(rows, byLength: lengths.count > 1), to: path)
    }
    switch format {
    case "json": context.print(json(rows, measure: measure, gpuCount: gpuCount).rendered())
    case "csv": context.standardOutput(csv(rows, gpus: gpus))
    default: context.standardOutput(markdown(rows, gpus: gpus, measure: measure, base: base, gpuCount: gpuCount))
    }
    return .success
  }

  static func gib(_ bytes: ByteCount) -> String { bytes.isOverflow ? "overflow" : ByteCount.fixed(bytes.gibibytes, decimals: 2) }

  static func markdown(_ rows: [Row], gpus: [GPU], measure: FitCriterion.Measure, base: TrainingSetup, gpuCount: Int64) -> String {
    var lines = ["| Model | Rank | Seq len | " + gpus.map { "\($0.name) (\(ByteCount.fixed($0.capacity.gibibytes, decimals: 1)) GiB)" }.joined(separator: " | ") + " |"]
    lines.append("| --- | ---: | ---: | " + gpus.map { _ in "---:" }.joined(separator: " | ") + " |")
    for row in rows {
      lines.append(
        "| \(row.model.name) | \(row.rank) | \(row.sequenceLength) | "
          + row.cells.map { "\(gib($0.evaluation.bytes)) \($0.evaluation.fits ? "fits" : "no")" }.joined(separator: " | ") + " |")
    }
    lines.append("")
    let note = ("GiB (2^30 bytes) of \(measure.label)" + (gpuCount > 1 ? ", per GPU of \(gpuCount) with FSDP" : "") + "; "
      + "\"fits\" when it fits the GPU's usable capacity. Setup: " + CompareCommand.describe(base)
      .replacingOccurrences(of: ", LoRA r=\(base.lora.rank)", with: ", LoRA").replacingOccurrences(of: ", \(base.sequenceLength) tokens", with: ", the row's tokens") + ".")
    lines += HelpText.wrap(note, width: 80)
    return lines.joined(separator: "\n") + "\n"
  }

  static func csv(_ rows: [Row], gpus: [GPU]) -> String {
    var lines = ["model,rank,seq_len," + gpus.map { "\($0.name)_bytes,\($0.name)_fits" }.joined(separator: ",")]
    for row in rows {
      lines.append("\(row.model.name),\(row.rank),\(row.sequenceLength),"
        + row.cells.map { "\($0.evaluation.bytes.bytes),\($0.evaluation.fits)" }.joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  static func json(_ rows: [Row], measure: FitCriterion.Measure, gpuCount: Int64) -> JSONOutput {
    .object([
      ("measure", .string(measure.rawValue)), ("gpu_count", .integer(gpuCount)),
      ("rows", .array(rows.map { row in
        .object([
          ("model", .string(row.model.name)), ("rank", .integer(row.rank)), ("seq_len", .integer(row.sequenceLength)),
          ("setup", EstimateJSON.setup(row.cells[0].evaluation.setup)),
          ("gpus", .array(row.cells.map { cell in
            .object([
              ("name", .string(cell.gpu.name)), ("capacity_bytes", .integer(cell.gpu.capacity.bytes)),
              ("bytes", .bytes(cell.evaluation.bytes)), ("fits", .bool(cell.evaluation.fits)),
            ])
          })),
        ])
      })),
    ])
  }

  /// Memory of the first model against sequence length (several lengths) or rank, with the
  /// first GPU's capacity.
  static func chart(_ rows: [Row], byLength: Bool) -> String {
    guard let first = rows.first, let gpu = first.cells.first?.gpu else { return "" }
    let series = rows.filter { $0.model.name == first.model.name && (byLength ? $0.rank == first.rank : $0.sequenceLength == first.sequenceLength) }
    let points = series.map { (byLength ? $0.sequenceLength : $0.rank, $0.cells[0].evaluation.bytes) }
    return SVGChart.line(
      title: "\(first.model.name): memory against " + (byLength ? "sequence length (r=\(first.rank))" : "rank (\(first.sequenceLength) tokens)"),
      xLabel: byLength ? "sequence length" : "LoRA rank", points: points, capacity: (gpu.name, gpu.capacity))
  }
}

import QLoRABudget

/// `qlora-budget compare MODEL --gpu A,B,... [--setups X,Y,...]`: one setup on several GPUs
/// side by side, or several setups (QLoRA vs 16-bit LoRA vs full fine-tuning, nf4 vs fp4, DQ
/// on/off, optimizers, recipes) on one or more GPUs.
enum CompareCommand: Command {
  static let name = "compare"
  static let summary = "Compare one setup on several GPUs, or several setups."
  static let arguments = "<model> --gpu <gpu,...> [--setups <s,...>] [options]"
  static let options: [OptionSpec] =
    [
      .value("--gpu", "gpus", "GPU presets or capacities joined by commas, e.g. rtx-4090,a100-80gb,24GB."),
      .value(
        "--setups", "setups",
        "Variants of the setup the other options give, joined by commas; join changes with '+' "
          + "(e.g. lora-16bit+adamw-8bit).",
        values: SetupVariant.all.map(\.name), default: "qlora,lora-16bit,full-finetune with one GPU, the setup as given with several"),
      PlanningOptions.svg,
    ] + ModelSourceOptions.specs + SetupOptions.specs
    + [.flag("--json", "Print one JSON object (see docs/planning.md).")]

  /// One column of the comparison: a setup, judged on some GPUs.
  struct Column {
    let label: String
    let estimate: MemoryEstimate
    let evaluations: [Evaluation]
    let fewestGPUs: [Int64?]
  }

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    try arguments.expectPositionals(atMost: 1)
    let config = try ModelSourceOptions.config(arguments)
    let (model, source) = try ModelSourceOptions.model(arguments, context, config: config)
    let base = try SetupOptions.setup(from: arguments, base: config?.setup ?? TrainingSetup(), environment: context.environment)
    guard let gpuNames = try PlanningOptions.list(arguments, "--gpu") else {
      throw UsageError("Missing '--gpu <gpu,gpu...>': one or more GPU presets or capacities.", command: name)
    }
    var gpus: [GPU] = []
    for gpuName in gpuNames { gpus.append(try SetupOptions.gpu(gpuName, presets: context.presets)) }
    var variants: [SetupVariant] = gpus.count == 1 ? SetupVariant.methods : [try SetupVariant.named("as-given")]
    if let names = try PlanningOptions.list(arguments, "--setups") {
      variants = []
      for variantName in names {
        do { variants.append(try SetupVariant.named(variantName)) } catch { throw UsageError.invalidValue(error.value, for: "--setups", error.expected) }
      }
    }
    for warning in model.warnings { context.warn(warning) }

    // One column per GPU (one setup), or one column per setup judged on every GPU.
    let byGPU = variants.count == 1 && gpus.count > 1
    let plans: [(label: String, setup: TrainingSetup, gpus: [GPU])] =
      byGPU ? gpus.map { ($0.name, variants[0].applied(to: base), [$0]) } : variants.map { ($0.name, $0.applied(to: base), gpus) }
    PlanningOptions.warnIncompatibilities(plans.flatMap { plan in plan.gpus.map { (plan.setup, $0) } }, context)
    var columns: [Column] = []
    for plan in plans {
      let estimate = try EstimateRequest.estimate(model, plan.setup, plan.gpus[0])
      var evaluations: [Evaluation] = []
      var fewest: [Int64?] = []
      for gpu in plan.gpus {
        let planner = Planner(model: model, setup: plan.setup, gpu: gpu)
        evaluations.append(try PlanningOptions.run { () throws(PlanningError) in try planner.evaluate(plan.setup) })
        fewest.append(try PlanningOptions.run { () throws(PlanningError) in try planner.fewestGPUs()?.value })
      }
      columns.append(Column(label: plan.label, estimate: estimate, evaluations: evaluations, fewestGPUs: fewest))
    }

    if let path = arguments.value("--svg") {
      let bars = columns.map { SVGChart.Bar(label: $0.label, segments: SVGChart.segments($0.estimate)) }
      try PlanningOptions.write(
        SVGChart.stackedBars(
          title: "\(model.name): peak process memory by part", bars: bars, capacities: gpus.map { ($0.name, $0.capacity) }),
        to: path)
    }
    if arguments.has("--json") {
      var object = json(model, columns)
      if case .object(let members) = object, let config { object = .object(members + [("config", ConfigSummary.json(config))]) }
      context.print(object.rendered())
      return .success
    }
    let origin = ModelSourceOptions.text(source, argument: arguments.positionals.first ?? config?.model, config: config)
    context.standardOutput(text(model, columns, gpus: gpus, byGPU: byGPU, color: context.usesColor)
      + origin.map { $0 + "\n" }.joined())
    return .success
  }

  static func json(_ model: ModelArchitecture, _ columns: [Column]) -> JSONOutput {
    .object([
      ("model", .string(model.name)), ("margin", EstimateJSON.margin()),
      ("columns", .array(columns.map { column in
        .object([
          ("label", .string(column.label)),
          ("estimate", EstimateJSON.object(column.estimate)),
          ("gpus", .array(zip(column.evaluations, column.fewestGPUs).map { evaluation, fewest in
            guard case .object(let members) = EstimateJSON.evaluation(evaluation) else { return .null }
            return .object(members + [("fewest_gpus", fewest.map { .integer($0) } ?? .null)])
          })),
        ])
      })),
    ])
  }

  static func text(_ model: ModelArchitecture, _ columns: [Column], gpus: [GPU], byGPU: Bool, color: Bool) -> String {
    let estimates = columns.map(\.estimate)
    // Each cell: its text, and the verdict whose colour it takes (coloured after padding).
    var rows: [(String, [(String, Verdict?)])] = []
    for kind in MemoryComponent.Kind.allCases {
      for device in [MemoryComponent.Device.gpu, .host] {
        let present = estimates.contains { $0.components.contains { $0.kind == kind && $0.device == device } }
        guard present else { continue }
        let cells = estimates.map { estimate -> (String, Verdict?) in
          (estimate.components.contains { $0.kind == kind && $0.device == device }
            ? EstimateText.gib(estimate.bytes(of: kind, on: device)) : "-", nil)
        }
        rows.append((kind.label + (device == .host ? " (host)" : ""), cells))
      }
    }
    rows.append(("Resident on the GPU", estimates.map { (EstimateText.gib($0.residentBytes), nil) }))
    rows.append(("Peak process", estimates.map { (EstimateText.gib($0.peak.process), nil) }))
    rows.append(("Host memory of the step", estimates.map { (EstimateText.gib($0.hostBytes), nil) }))
    let groups = byGPU ? [nil] : gpus.map { Optional($0) }
    for group in groups {
      func cell(_ column: Column) -> (Evaluation, Int64?)? {
        guard let index = group.map({ g in column.evaluations.firstIndex { $0.gpu.name == g.name } }) ?? 0 else { return nil }
        return (column.evaluations[index], column.fewestGPUs[index])
      }
      rows.append((group.map { "Verdict \($0.name)" } ?? "Verdict", columns.map { column in
        cell(column).map { ($0.0.verdict.label, $0.0.verdict) } ?? ("-", nil)
      }))
      let engine = estimates.first?.setup.engine ?? .fsdp
      let needed = "GPUs needed (\(engine == .fsdp ? "FSDP" : engine.rawValue))"
      rows.append((group == nil ? needed : "  " + needed, columns.map { column in
        guard let (_, fewest) = cell(column) else { return ("-", nil) }
        return (fewest.map { NumberText.grouped($0) } ?? ">\(TrainingSetup.maximumGPUCount)", nil)
      }))
    }
    var lines = ["\(model.name): \(NumberText.grouped(model.parameterCount)) parameters; GiB (2^30 bytes)"]
    lines += HelpText.wrap("Verdict: " + VerdictText.definition + ".", width: 80)
    if !byGPU {
      lines.append("GPUs: " + gpus.map { "\($0.name) (\($0.capacity.formatted(.binary)))" }.joined(separator: ", "))
    }
    let perBlock = 4
    for start in stride(from: 0, to: columns.count, by: perBlock) {
      let range = start..<min(columns.count, start + perBlock)
      lines.append("")
      lines.append(HelpText.pad("", 24) + range.map { EstimateText.leftPad(String(columns[$0].label.prefix(13)), 14) }.joined())
      lines.append(String(repeating: "-", count: 24 + 14 * range.count))
      for (label, cells) in rows {
        lines.append(HelpText.pad(String(label.prefix(23)), 24)
          + range.map { index in
            let (text, verdict) = cells[index]
            let padded = EstimateText.leftPad(text, 14)
            return verdict.map { VerdictText.colored(padded, $0, color) } ?? padded
          }.joined())
      }
    }
    lines.append("")
    lines.append("Setups:")
    for column in columns where !byGPU {
      lines += HelpText.wrap("\(column.label): " + describe(column.estimate.setup), width: 76).enumerated()
        .map { ($0 == 0 ? "- " : "  ") + $1 }
    }
    if byGPU, let first = columns.first { lines += HelpText.wrap(describe(first.estimate.setup), width: 76).map { "  " + $0 } }
    // The estimates' version notes (e.g. unquantized fused MoE experts), each once.
    var notes: [String] = []
    for note in columns.flatMap(\.estimate.notes) where !notes.contains(note) { notes.append(note) }
    for note in notes { lines += HelpText.wrap("Note: " + note, width: 78) }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The setup in one line; `varying` leaves out the rank and length a table varies.
  static func describe(_ setup: TrainingSetup, varying: Bool = false) -> String {
    let base: String
    if setup.isFullFineTune {
      base = "full fine-tuning in \(setup.computeDtype.rawValue)"
    } else {
      let quant = setup.quantization.isFourBit
        ? setup.quantization.rawValue + (setup.usesDoubleQuantization ? "+dq" : "")
        : setup.quantization == .none ? "16-bit" : setup.quantization.rawValue
      base = "\(quant) base, LoRA" + (varying ? "" : " r=\(setup.lora.rank)") + " on \(setup.lora.targets.description)"
    }
    return base + ", \(setup.optimizer.rawValue), " + (varying ? "the row's tokens" : "\(setup.sequenceLength) tokens")
      + " x \(setup.batchSize), "
      + "checkpointing \(setup.usesGradientCheckpointing ? "on" : "off"), \(setup.attention.rawValue), recipe \(setup.recipe.name)"
  }
}

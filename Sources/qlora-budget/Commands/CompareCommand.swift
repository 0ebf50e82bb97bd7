import QLoRABudget
import QLoRABudgetInputs

/// `qlora-budget compare MODEL --gpu A,B,... [--setups X,Y,...]`: one setup on several GPUs
/// side by side, or several setups (QLoRA vs 16-bit LoRA vs full fine-tuning, nf4 vs fp4, DQ
/// on/off, optimizers, recipes) on one or more GPUs.
enum CompareCommand: Command {
  static let name = "compare"
  static let summary = "Compare one setup on several GPUs, or several setups."
  static let arguments = "<model> --gpu <gpu,...> [--setups <s,...>] [options]"
  static let setups = OptionSpec.value(
    "--setups", "setups",
    "Variants of the setup the other options give, joined by commas; join changes with '+' "
      + "(e.g. lora-16bit+adamw-8bit).",
    values: SetupVariant.all.map(\.name),
    default: "qlora,lora-16bit,full-finetune with one GPU, the setup as given with several")
  static let json = OptionSpec.flag("--json", "Print one JSON object (see docs/planning.md).")
  static let options: [OptionSpec] =
    [
      EstimateRequest.gpuOption("gpus", "GPU presets or capacities joined by commas, e.g. rtx-4090,a100-80gb,24GB."),
      setups, PlanningOptions.svg, PlanningOptions.force,
    ] + ModelSourceOptions.specs + SetupOptions.specs + [json]

  /// One column of the comparison: a setup, judged on some GPUs.
  struct Column {
    let label: String
    let estimate: MemoryEstimate
    let evaluations: [Evaluation]
    /// Per GPU: the fewest GPUs of its kind that fit and that may fit (tight), over every
    /// engine and offload (``Planner/fewestGPUs(over:accepting:upTo:)``, as `solve` answers).
    let fewestGPUs: [(fits: Planner.GPUPlan?, tight: Planner.GPUPlan?)]
    /// Per GPU: the fewest that fit with an engine that offloads nothing (`solve`'s too).
    let fewestWithoutOffload: [Planner.GPUPlan?]
  }

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    let request = try EstimateRequest(arguments, context, models: .one, gpus: .list)
    let (model, source, base, gpus, config, summary) = (
      request.model, request.source, request.setup, request.gpus, request.config, request.summary
    )
    var variants: [SetupVariant] = gpus.count == 1 ? SetupVariant.methods : [try SetupVariant.named("as-given")]
    if let names = try PlanningOptions.list(arguments, setups) {
      variants = []
      for variantName in names {
        do { variants.append(try SetupVariant.named(variantName)) } catch {
          throw UsageError.invalidValue(error.value, for: setups.name, error.expected)
        }
      }
    }
    for warning in model.warnings { context.warn(warning) }

    // One column per GPU (one setup), or one column per setup judged on every GPU.
    let byGPU = variants.count == 1 && gpus.count > 1
    let plans: [(label: String, setup: TrainingSetup, gpus: [GPU])] =
      byGPU
      ? gpus.map { (CommandLineTool.oneLine($0.name), variants[0].applied(to: base), [$0]) }
      : variants.map { ($0.name, $0.applied(to: base), gpus) }
    PlanningOptions.warnIncompatibilities(plans.flatMap { plan in plan.gpus.map { (plan.setup, $0) } }, context)
    var columns: [Column] = []
    for plan in plans {
      let estimate = try EstimateRequest.estimate(model, plan.setup, plan.gpus[0])
      var evaluations: [Evaluation] = []
      var fewest: [(fits: Planner.GPUPlan?, tight: Planner.GPUPlan?)] = []
      var withoutOffload: [Planner.GPUPlan?] = []
      for gpu in plan.gpus {
        let planner = Planner(model: model, setup: plan.setup, gpu: gpu)
        evaluations.append(try PlanningOptions.run { () throws(PlanningError) in try planner.evaluate(plan.setup) })
        fewest.append(
          try PlanningOptions.run { () throws(PlanningError) in
            (try planner.fewestGPUs(accepting: .fits), try planner.fewestGPUs(accepting: .tight))
          })
        withoutOffload.append(
          try PlanningOptions.run { () throws(PlanningError) in
            try planner.fewestGPUs(over: Planner.EngineChoice.ladder.filter { $0.offload.isEmpty })
          })
      }
      columns.append(
        Column(
          label: plan.label, estimate: estimate, evaluations: evaluations, fewestGPUs: fewest,
          fewestWithoutOffload: withoutOffload))
    }

    if let path = arguments.value(PlanningOptions.svg) {
      let bars = columns.map { SVGChart.Bar(label: $0.label, segments: SVGChart.segments($0.estimate)) }
      try PlanningOptions.write(
        SVGChart.stackedBars(
          title: "\(model.name): peak process memory by part", bars: bars,
          capacities: gpus.map { ($0.name, $0.capacity) }, margin: .of(base)),
        to: path, arguments)
    }
    if arguments.has(json) {
      var object = json(model, columns, base: base)
      if case .object(let members) = object { object = .object(members + summary.jsonMembers) }
      context.print(object.rendered())
      return .success
    }
    let origin = ModelSourceOptions.text(
      source, argument: arguments.positionals.first ?? config?.model, summary: summary)
    context.standardOutput(
      text(model, columns, gpus: gpus, byGPU: byGPU, color: context.usesColor)
        + origin.map { $0 + "\n" }.joined())
    return .success
  }

  static func json(_ model: ModelArchitecture, _ columns: [Column], base: TrainingSetup) -> JSONOutput {
    .object([
      ("model", .string(model.name)), ("margin", EstimateJSON.margin(.of(base))),
      (
        "columns",
        .array(
          columns.map { column in
            .object([
              ("label", .string(column.label)),
              ("estimate", EstimateJSON.object(column.estimate)),
              ("host", HostOptions.json(HostMemory(column.estimate), capacity: nil)),
              (
                "gpus",
                .array(
                  column.evaluations.indices.map { index in
                    guard case .object(let members) = EstimateJSON.evaluation(column.evaluations[index]) else {
                      return .null
                    }
                    let fewest = column.fewestGPUs[index]
                    return .object(
                      members + [
                        (
                          "fewest_gpus",
                          .object([
                            ("fits", fewest.fits.map(EstimateJSON.gpuPlan) ?? .null),
                            ("tight", fewest.tight.map(EstimateJSON.gpuPlan) ?? .null),
                          ])
                        ),
                        (
                          "fewest_gpus_without_offload",
                          column.fewestWithoutOffload[index].map(EstimateJSON.gpuPlan) ?? .null
                        ),
                      ])
                  })
              ),
            ])
          })
      ),
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
          (
            estimate.components.contains { $0.kind == kind && $0.device == device }
              ? EstimateText.gib(estimate.bytes(of: kind, on: device)) : "-", nil
          )
        }
        rows.append((kind.label + (device == .host ? " (host)" : ""), cells))
      }
    }
    rows.append(("Resident on the GPU", estimates.map { (EstimateText.gib($0.residentBytes), nil) }))
    rows.append(("Peak process", estimates.map { (EstimateText.gib($0.peak.process), nil) }))
    rows.append(("Host memory of the step", estimates.map { (EstimateText.gib($0.hostBytes), nil) }))
    let groups = byGPU ? [nil] : gpus.map { Optional($0) }
    for group in groups {
      func cell(_ column: Column) -> (Evaluation, fits: Planner.GPUPlan?, withoutOffload: Planner.GPUPlan?)? {
        guard let index = group.map({ g in column.evaluations.firstIndex { $0.gpu.name == g.name } }) ?? 0 else {
          return nil
        }
        return (column.evaluations[index], column.fewestGPUs[index].fits, column.fewestWithoutOffload[index])
      }
      rows.append(
        (
          group.map { "Verdict \(CommandLineTool.oneLine($0.name))" } ?? "Verdict",
          columns.map { column in
            cell(column).map { ($0.0.verdict.label, $0.0.verdict) } ?? ("-", nil)
          }
        ))
      // The fewest GPUs as `solve --find gpus` answers: the count and the engine (+ offload).
      func plan(_ plan: Planner.GPUPlan?) -> String {
        guard let plan else { return ">\(NumberText.grouped(TrainingSetup.maximumGPUCount))" }
        guard let engine = plan.engine else { return "\(NumberText.grouped(plan.count)) GPU" }
        let offload = engine.offload.isEmpty ? "" : "+" + engine.offload.description
        return "\(NumberText.grouped(plan.count)) \(engine.engine.rawValue)\(offload)"
      }
      let indent = group == nil ? "" : "  "
      rows.append(
        (indent + "Fewest GPUs that fit", columns.map { column in (cell(column).map { plan($0.fits) } ?? "-", nil) }))
      rows.append(
        (
          indent + "  without offload",
          columns.map { column in (cell(column).map { plan($0.withoutOffload) } ?? "-", nil) }
        ))
    }
    var lines = [
      "\(CommandLineTool.oneLine(model.name)): \(NumberText.grouped(model.parameterCount)) parameters; GiB (2^30 bytes)"
    ]
    lines += HelpText.wrap("Verdict: " + VerdictText.definition + ".", width: 80)
    if !byGPU {
      lines.append(
        "GPUs: "
          + gpus.map { "\(CommandLineTool.oneLine($0.name)) (\($0.capacity.formatted(.binary)))" }.joined(
            separator: ", "))
    }
    // Nothing is cut: a label or cell wider than the usual 24 and 14 columns widens its column
    // (a header one space before it, cells two).
    let labelWidth = max(24, (rows.map(\.0.count).max() ?? 0) + 1)
    let widths = columns.indices.map { index in
      max(14, columns[index].label.count + 1, (rows.map { $0.1[index].0.count }.max() ?? 0) + 2)
    }
    let perBlock = 4
    for start in stride(from: 0, to: columns.count, by: perBlock) {
      let range = start..<min(columns.count, start + perBlock)
      lines.append("")
      lines.append(
        HelpText.pad("", labelWidth) + range.map { EstimateText.leftPad(columns[$0].label, widths[$0]) }.joined())
      lines.append(String(repeating: "-", count: labelWidth + range.map { widths[$0] }.reduce(0, +)))
      for (label, cells) in rows {
        lines.append(
          HelpText.pad(label, labelWidth)
            + range.map { index in
              let (text, verdict) = cells[index]
              let padded = EstimateText.leftPad(text, widths[index])
              return verdict.map { VerdictText.colored(padded, $0, color) } ?? padded
            }.joined())
      }
    }
    lines.append("")
    lines.append("Setups:")
    for column in columns where !byGPU {
      lines += HelpText.wrap(
        "\(column.label): " + describe(column.estimate.setup, model: column.estimate.model), width: 76
      ).enumerated()
        .map { ($0 == 0 ? "- " : "  ") + $1 }
    }
    if byGPU, let first = columns.first {
      lines += HelpText.wrap(describe(first.estimate.setup, model: first.estimate.model), width: 76).map { "  " + $0 }
    }
    // The estimates' version notes (e.g. unquantized fused MoE experts), each once.
    var notes: [String] = []
    for note in columns.flatMap(\.estimate.notes) where !notes.contains(note) { notes.append(note) }
    for note in notes { lines += HelpText.wrap("Note: " + note, width: 78) }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The setup in one line; `varying` leaves out the rank and length a table varies. With the
  /// model, the attention its layers run (``TrainingSetup/attention(for:)``), else the setup's.
  static func describe(_ setup: TrainingSetup, model: ModelArchitecture? = nil, varying: Bool = false) -> String {
    let attention = model.map { setup.attention(for: $0) } ?? setup.attention
    let base: String
    if setup.isFullFineTune {
      base = "full fine-tuning in \(setup.computeDtype.rawValue)"
    } else {
      let quant =
        setup.quantization.isFourBit
        ? setup.quantization.rawValue + (setup.usesDoubleQuantization ? "+dq" : "")
        : setup.quantization == .none ? "16-bit" : setup.quantization.rawValue
      base = "\(quant) base, LoRA" + (varying ? "" : " r=\(setup.lora.rank)") + " on \(setup.lora.targets.description)"
    }
    return base + ", \(setup.optimizer.rawValue), " + (varying ? "the row's tokens" : "\(setup.sequenceLength) tokens")
      + " x \(setup.batchSize), "
      + "checkpointing \(setup.usesGradientCheckpointing ? "on" : "off"), \(attention.rawValue), recipe \(setup.recipe.name)"
  }
}

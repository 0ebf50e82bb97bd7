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
        values: SetupVariant.names, default: "qlora,lora-16bit,full-finetune with one GPU, the setup as given with several"),
    ] + PlanningOptions.specs + [PlanningOptions.svg] + SetupOptions.specs
    + [.flag("--json", "Print one JSON object (see docs/planning.md).")]

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    try arguments.expectPositionals(atMost: 1)
    let model = try context.presets.model(from: try arguments.positional(0, named: "model"))
    let base = try SetupOptions.setup(from: arguments)
    guard let gpuNames = try PlanningOptions.list(arguments, "--gpu") else {
      throw UsageError("Missing '--gpu <gpu,gpu...>': one or more GPU presets or capacities.", command: name)
    }
    var gpus: [GPU] = []
    for gpuName in gpuNames { gpus.append(try SetupOptions.gpu(gpuName, presets: context.presets)) }
    let criterion = try PlanningOptions.criterion(arguments)
    let gpuCount = try PlanningOptions.gpuCount(arguments)
    let variantNames = try PlanningOptions.list(arguments, "--setups")
      ?? (gpus.count == 1 ? ["qlora", "lora-16bit", "full-finetune"] : ["as-given"])
    var setups: [(String, TrainingSetup)] = []
    for variant in variantNames { setups.append((variant, try SetupVariant.apply(variant, to: base))) }
    for warning in model.warnings { context.warn(warning) }

    // One column per GPU (one setup), or one column per setup judged on every GPU.
    let byGPU = setups.count == 1 && gpus.count > 1
    let columns: [(label: String, setup: TrainingSetup, gpus: [GPU])] =
      byGPU ? gpus.map { ($0.name, setups[0].1, [$0]) } : setups.map { ($0.0, $0.1, gpus) }
    var estimates: [MemoryEstimate] = []
    var judged: [[(GPU, Planner.Evaluation, Int64?)]] = []
    for column in columns {
      estimates.append(try EstimateRequest.estimate(model, column.setup, column.gpus[0]))
      var row: [(GPU, Planner.Evaluation, Int64?)] = []
      for gpu in column.gpus {
        let planner = Planner(model: model, setup: column.setup, gpu: gpu, criterion: criterion, gpuCount: gpuCount)
        let evaluation = try PlanningOptions.run { () throws(PlanningError) in try planner.evaluate(column.setup) }
        let fewest = try PlanningOptions.run { () throws(PlanningError) in try planner.fewestGPUs()?.count }
        row.append((gpu, evaluation, fewest))
      }
      judged.append(row)
    }
    let measure = judged.first?.first?.1.measure ?? .resident

    if let path = arguments.value("--svg") {
      let bars = zip(columns, estimates).map { SVGChart.Bar(label: $0.0.label, segments: SVGChart.segments($0.1)) }
      try PlanningOptions.write(
        SVGChart.stackedBars(title: "\(model.name): GPU memory by component", bars: bars, capacities: gpus.map { ($0.name, $0.capacity) }),
        to: path)
    }
    if arguments.has("--json") {
      let items: [JSONOutput] = columns.indices.map { index in
        .object([
          ("label", .string(columns[index].label)),
          ("estimate", EstimateJSON.object(estimates[index])),
          ("gpus", .array(judged[index].map { gpu, evaluation, fewest in
            .object([
              ("name", .string(gpu.name)), ("capacity_bytes", .integer(gpu.capacity.bytes)),
              ("bytes", .bytes(evaluation.bytes)), ("fits", .bool(evaluation.fits)),
              ("fewest_gpus", fewest.map { .integer($0) } ?? .null),
            ])
          })),
        ])
      }
      context.print(JSONOutput.object([
        ("model", .string(model.name)), ("measure", .string(measure.rawValue)), ("gpu_count", .integer(gpuCount)),
        ("columns", .array(items)),
      ]).rendered())
      return .success
    }

    var rows: [(String, [String])] = []
    for kind in MemoryComponent.Kind.allCases {
      for device in [MemoryComponent.Device.gpu, .host] {
        let present = estimates.contains { $0.components.contains { $0.kind == kind && $0.device == device } }
        guard present else { continue }
        let cells = estimates.map { estimate -> String in
          estimate.components.contains { $0.kind == kind && $0.device == device }
            ? EstimateText.gib(estimate.bytes(of: kind, on: device)) : "-"
        }
        rows.append((kind.label + (device == .host ? " (host)" : ""), cells))
      }
    }
    rows.append(("Resident on the GPU", estimates.map { EstimateText.gib($0.residentBytes) }))
    rows.append(("Peak process", estimates.map { EstimateText.gib($0.peak?.process) }))
    rows.append(("Host memory of the step", estimates.map { EstimateText.gib($0.hostBytes) }))
    let groups = byGPU ? [nil] : gpus.map { Optional($0) }
    for group in groups {
      rows.append((group.map { "Fits \($0.name)" } ?? "Fits", judged.map { cells in
        let cell = group.map { g in cells.first { $0.0.name == g.name } } ?? cells.first
        guard let (_, evaluation, _) = cell else { return "-" }
        let word = evaluation.outcome == "tight" ? "tight" : evaluation.fits ? "yes" : "no"
        return colour(word, evaluation.fits ? "32" : word == "tight" ? "33" : "31", context.usesColor)
      }))
      let engine = estimates.first?.setup.engine ?? .fsdp
      let needed = "GPUs needed (\(engine == .fsdp ? "FSDP" : engine.rawValue))"
      rows.append((group == nil ? needed : "  " + needed, judged.map { cells in
        let cell = group.map { g in cells.first { $0.0.name == g.name } } ?? cells.first
        guard let (_, _, fewest) = cell else { return "-" }
        return fewest.map { NumberText.grouped($0) } ?? ">4096"
      }))
    }
    var lines = ["\(model.name): \(NumberText.grouped(model.parameterCount)) parameters; GiB (2^30 bytes)"]
    lines.append("Fit by: \(measure.label)" + (gpuCount > 1 ? "; \(gpuCount) GPUs each" : ""))
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
            let cell = cells[index]
            let visible = cell.replacingOccurrences(of: "\u{1B}[1;32m", with: "").replacingOccurrences(of: "\u{1B}[1;31m", with: "")
              .replacingOccurrences(of: "\u{1B}[0m", with: "")
            return String(repeating: " ", count: max(0, 14 - visible.count)) + cell
          }.joined())
      }
    }
    lines.append("")
    lines.append("Setups:")
    for column in columns where !byGPU {
      lines += HelpText.wrap("\(column.label): " + describe(column.setup), width: 76).enumerated().map { ($0 == 0 ? "- " : "  ") + $1 }
    }
    if byGPU { lines += HelpText.wrap(describe(setups[0].1), width: 76).map { "  " + $0 } }
    context.standardOutput(lines.joined(separator: "\n") + "\n")
    return .success
  }

  static func colour(_ text: String, _ code: String, _ enabled: Bool) -> String {
    enabled ? "\u{1B}[1;\(code)m\(text)\u{1B}[0m" : text
  }

  static func describe(_ setup: TrainingSetup) -> String {
    let base: String
    if setup.isFullFineTune {
      base = "full fine-tuning in \(setup.computeDtype.rawValue)"
    } else {
      let quant = setup.quantization.isFourBit
        ? setup.quantization.rawValue + (setup.usesDoubleQuantization ? "+dq" : "") : setup.quantization.rawValue
      base = "\(quant) base, LoRA r=\(setup.lora.rank) on \(setup.lora.targets.description)"
    }
    return base + ", \(setup.optimizer.rawValue), \(setup.sequenceLength) tokens x \(setup.batchSize), "
      + "checkpointing \(setup.usesGradientCheckpointing ? "on" : "off"), \(setup.attention.rawValue), recipe \(setup.recipe.name)"
  }
}

/// Named changes to a setup for `compare --setups`; several join with '+'.
enum SetupVariant {
  static let names: [String] =
    ["as-given", "qlora", "lora-16bit", "lora-int8", "full-finetune", "nf4", "fp4", "dq", "no-dq", "grad-ckpt", "no-grad-ckpt"]
    + AttentionImplementation.allCases.map(\.rawValue) + Optimizer.allCases.map(\.rawValue) + Recipe.all.map(\.name)

  static func apply(_ variant: String, to base: TrainingSetup) throws(UsageError) -> TrainingSetup {
    var setup = base
    for part in variant.lowercased().split(separator: "+").map(String.init) {
      switch part {
      case "as-given": break
      case "qlora":
        setup.isFullFineTune = false
        setup.quantization = base.quantization.isFourBit ? base.quantization : .nf4
      case "lora-16bit":
        setup.isFullFineTune = false
        setup.quantization = .none
      case "lora-int8":
        setup.isFullFineTune = false
        setup.quantization = .int8
      case "full-finetune": setup.isFullFineTune = true
      case "nf4": setup.quantization = .nf4
      case "fp4": setup.quantization = .fp4
      case "dq": setup.usesDoubleQuantization = true
      case "no-dq": setup.usesDoubleQuantization = false
      case "grad-ckpt": setup.gradientCheckpointing = true
      case "no-grad-ckpt": setup.gradientCheckpointing = false
      default:
        if let attention = AttentionImplementation(rawValue: part) {
          setup.attention = attention
        } else if let optimizer = Optimizer(rawValue: part) {
          setup.optimizer = optimizer
        } else if let recipe = Recipe.named(part) {
          setup.recipe = recipe
        } else {
          let hint = Suggestions.closest(to: part, among: names, limit: 1).first.map { " Did you mean '\($0)'?" } ?? ""
          throw .invalidValue(part, for: "--setups", "use one of \(names.joined(separator: ", ")).\(hint)")
        }
      }
    }
    return setup
  }
}

import QLoRABudget

/// `qlora-budget solve MODEL [--gpu GPU] [--find WHAT]`: the largest rank, sequence length and
/// batch that fit, the fewest GPUs, the smallest GPU preset, and the single changes that make
/// a run fit.
enum SolveCommand: Command {
  static let name = "solve"
  static let summary = "Largest rank, seq-len or batch; smallest GPU; what to change."
  static let arguments = "<model> [--gpu <gpu|size>] [--find <what>] [options]"
  static let findValues = ["all", "rank", "seq-len", "batch", "gpus", "gpu", "changes"]
  static let options: [OptionSpec] =
    [
      .value("--gpu", "gpu|size", "The GPU to plan for: a preset or a capacity such as 24GB (all but --find gpu need it)."),
      .value(
        "--find", "what",
        "What to solve for: the largest rank, seq-len or batch that fits, the fewest GPUs (with the engine and offload), the "
          + "smallest GPU preset, the single changes that make the run fit, or all of them.",
        values: findValues, default: "all"),
    ] + PlanningOptions.specs + [PlanningOptions.svg] + SetupOptions.specs
    + [.flag("--json", "Print one JSON object (see docs/planning.md).")]

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    let request = try EstimateRequest(arguments, context, requiresGPU: false)
    let criterion = try PlanningOptions.criterion(arguments)
    let gpuCount = try PlanningOptions.gpuCount(arguments)
    let find = (arguments.value("--find") ?? "all").lowercased()
    guard findValues.contains(find) else {
      let hint = Suggestions.closest(to: find, among: findValues, limit: 1).first.map { " Did you mean '\($0)'?" } ?? ""
      throw UsageError.invalidValue(find, for: "--find", "use one of \(findValues.joined(separator: ", ")).\(hint)")
    }
    let wants = { (what: String) in find == "all" || find == what }
    var json: [(String, JSONOutput)] = [
      ("model", .string(request.model.name)), ("setup", EstimateJSON.setup(request.setup)),
    ]
    var lines: [String] = []
    let header = try request.estimate()
    for warning in header.warnings { context.warn(warning) }
    lines += EstimateText.header(header)

    var svg: String?
    if let gpu = request.gpu {
      let planner = Planner(model: request.model, setup: request.setup, gpu: gpu, criterion: criterion, gpuCount: gpuCount)
      let current = try PlanningOptions.run { () throws(PlanningError) in try planner.evaluate(request.setup) }
      let shards = gpuCount > 1 ? "\(gpuCount) x " : ""
      lines.append("GPU: \(shards)\(gpu.displayName), usable \(gpu.capacity.formatted(.binary)) each")
      lines.append("Fit by: \(current.measure.label)" + (criterion.allowsTight ? ", tight counts" : ""))
      lines.append("As given: \(current.bytes.formatted(.binary))" + (gpuCount > 1 ? " per GPU" : "") + ", "
        + current.outcome)
      lines.append("")
      json += [
        ("gpu", EstimateJSON.gpu(gpu)), ("gpu_count", .integer(gpuCount)), ("measure", .string(current.measure.rawValue)),
        ("allow_tight", .bool(criterion.allowsTight)), ("bytes", .bytes(current.bytes)), ("fits", .bool(current.fits)),
      ]
      var largest: [(String, JSONOutput)] = []
      for parameter in SolvableParameter.allCases where wants(parameter.rawValue) {
        if parameter == .rank, request.setup.isFullFineTune { continue }
        let answer = try PlanningOptions.run { () throws(PlanningError) in try planner.largest(parameter) }
        lines.append(contentsOf: describe(answer))
        largest.append((parameter.rawValue.replacingOccurrences(of: "-", with: "_"), answerJSON(answer)))
        if svg == nil, find != "all" || parameter == .rank || request.setup.isFullFineTune {
          svg = try chart(parameter, answer, planner)
        }
      }
      if !largest.isEmpty { json.append(("largest", .object(largest))) }
      if wants("gpus") {
        let plan = try PlanningOptions.run { () throws(PlanningError) in try planner.fewestGPUsWithEngine() }
        let withoutOffload = try PlanningOptions.run { () throws(PlanningError) in
          try planner.fewestGPUsWithEngine(over: Planner.EngineChoice.ladder.filter { $0.offload.isEmpty })
        }
        if let plan {
          lines += gpuPlanLines("Fewest GPUs", plan)
          if let withoutOffload, withoutOffload.choice != plan.choice {
            lines += gpuPlanLines("Without offload", withoutOffload, among: "no engine without offload")
          }
          json.append(("fewest_gpus", gpuPlanJSON(plan)))
          json.append(("fewest_gpus_without_offload", withoutOffload.map(gpuPlanJSON) ?? .null))
        } else {
          lines.append("Fewest GPUs: none up to 4096 with any engine or offload; the replicated part alone does not fit")
          json.append(("fewest_gpus", .null))
        }
      }
      if wants("changes") {
        let changes = try PlanningOptions.run { () throws(PlanningError) in try planner.changes() }
        lines.append("")
        if current.fits {
          lines.append("Changes: none needed, the run fits as given.")
        } else if changes.isEmpty {
          lines.append("Changes: no single change makes it fit.")
        } else {
          lines.append("Single changes that make it fit, least given up first:")
          for (index, change) in changes.enumerated() {
            lines.append(EstimateText.leftPad("\(index + 1).", 4) + " " + HelpText.pad(change.option, 42)
              + EstimateText.leftPad(change.evaluation.bytes.formatted(.binary), 12) + "  " + change.cost.label)
            lines += HelpText.wrap(change.note, width: 70).map { "     " + $0 }
          }
        }
        json.append(("changes", .array(changes.map(changeJSON))))
      }
    } else if find != "gpu" {
      throw UsageError("Missing '--gpu <gpu|size>': '--find \(find)' plans for a GPU.", command: name)
    }

    if wants("gpu") {
      // A bitsandbytes run needs a device bitsandbytes supports (not Apple's unified memory).
      let gpus = try context.presets.allGPUs().filter { !request.setup.needsBitsandbytes || $0.runsBitsandbytes }
      let found = try PlanningOptions.run { () throws(PlanningError) in
        try Planner.smallestGPU(model: request.model, setup: request.setup, among: gpus, criterion: criterion)
      }
      if let found, let gpu = found.estimate?.gpu {
        lines.append(row("Smallest GPU preset", gpu.name, "\(gib(found.bytes)) of \(gpu.capacity.formatted(.binary))"))
        json.append(("smallest_gpu", .object([
          ("name", .string(gpu.name)), ("capacity_bytes", .integer(gpu.capacity.bytes)), ("bytes", .bytes(found.bytes)),
          ("measure", .string(found.measure.rawValue)),
        ])))
      } else {
        lines.append("Smallest GPU preset: none of the presets fits this run on one GPU")
        json.append(("smallest_gpu", .null))
      }
    }
    if let path = arguments.value("--svg") {
      guard let svg else {
        throw UsageError("'--svg' draws memory against rank or sequence length: use it with --gpu and --find rank, seq-len or all.")
      }
      try PlanningOptions.write(svg, to: path)
    }
    if arguments.has("--json") {
      context.print(JSONOutput.object(json).rendered())
    } else {
      context.standardOutput(lines.joined(separator: "\n") + "\n")
    }
    return .success
  }

  static func gib(_ bytes: ByteCount) -> String { bytes.formatted(.binary) }

  /// The fewest-GPUs answer: the count, engine and offload, the host memory it takes, and the
  /// same engine on one GPU fewer (which does not fit).
  static func gpuPlanLines(_ label: String, _ plan: Planner.GPUPlan, among: String = "no engine or offload") -> [String] {
    var lines = [row(label, NumberText.grouped(plan.count), "\(gib(plan.evaluation.bytes)) per GPU, \(plan.evaluation.outcome)")]
    lines.append("  engine \(plan.choice.description)"
      + (plan.evaluation.estimate.map { "; host \(gib(HostMemory($0).peak)) per GPU process" } ?? ""))
    if let fewer = plan.oneFewer {
      lines.append("  on \(fewer.setup.gpuCount): \(gib(fewer.bytes)) per GPU, \(fewer.outcome) (\(among) fits fewer)")
    }
    return lines
  }

  static func gpuPlanJSON(_ plan: Planner.GPUPlan) -> JSONOutput {
    .object([
      ("count", .integer(plan.count)), ("engine", .string(plan.choice.engine.rawValue)),
      ("offload", .string(plan.choice.offload.description)), ("bytes_per_gpu", .bytes(plan.evaluation.bytes)),
      ("host_bytes_per_process", plan.evaluation.estimate.map { .bytes(HostMemory($0).peak) } ?? .null),
      ("one_fewer_bytes_per_gpu", plan.oneFewer.map { .bytes($0.bytes) } ?? .null),
    ])
  }

  /// `label  value  detail` in 80 columns.
  static func row(_ label: String, _ value: String, _ detail: String) -> String {
    String((HelpText.pad(label, 26) + EstimateText.leftPad(value, 10) + "  " + detail).prefix(80))
  }

  static func describe(_ answer: Planner.Answer) -> [String] {
    let label = "Largest " + answer.parameter.label
    guard let value = answer.value else {
      let smallest = answer.atNext.map { ": \(answer.parameter.range.lowerBound) needs " + $0.bytes.formatted(.binary) } ?? ""
      return [row(label, "none", "nothing fits\(smallest)")]
    }
    let detail: String
    if let next = answer.atNext {
      detail = "\(NumberText.grouped(value + 1)) needs \(next.bytes.formatted(.binary))"
    } else {
      detail = "the largest value accepted"
    }
    return [row(label, NumberText.grouped(value), "\(gib(answer.atValue?.bytes ?? .zero)); \(detail)")]
  }

  static func answerJSON(_ answer: Planner.Answer) -> JSONOutput {
    .object([
      ("value", answer.value.map { .integer($0) } ?? .null),
      ("bytes", .bytes(answer.atValue?.bytes)),
      ("next_bytes", .bytes(answer.atNext?.bytes)),
      ("limit", .integer(answer.parameter.range.upperBound)),
      ("probes", .integer(Int64(answer.probes))),
    ])
  }

  static func changeJSON(_ change: FitChange) -> JSONOutput {
    .object([
      ("kind", .string(change.kind.rawValue)), ("option", .string(change.option)), ("note", .string(change.note)),
      ("cost", .string(String(describing: change.cost))), ("fraction", .number(change.fraction)),
      ("bytes", .bytes(change.evaluation.bytes)), ("setup", EstimateJSON.setup(change.evaluation.setup)),
    ])
  }

  /// Memory against the parameter, from 1 to past the boundary, with the capacity line.
  static func chart(_ parameter: SolvableParameter, _ answer: Planner.Answer, _ planner: Planner) throws -> String {
    let current = parameter.value(in: planner.setup)
    let end = min(parameter.range.upperBound, max(2 * (answer.value ?? 1), 2 * current, 8))
    var xs: [Int64] = (0...24).map { max(1, end * Int64($0) / 24) }
    xs = Array(Set(xs + [answer.value, answer.value.map { $0 + 1 }].compactMap { $0 }.filter { $0 <= end })).sorted()
    var points: [(Int64, ByteCount)] = []
    for x in xs {
      let evaluation = try PlanningOptions.run { () throws(PlanningError) in
        try planner.evaluate(parameter.applying(x, to: planner.setup))
      }
      if !evaluation.bytes.isOverflow { points.append((x, evaluation.bytes)) }
    }
    return SVGChart.line(
      title: "\(planner.model.name): memory against \(parameter.label)", xLabel: parameter.label, points: points,
      capacity: (planner.gpu.name, planner.gpu.capacity))
  }
}

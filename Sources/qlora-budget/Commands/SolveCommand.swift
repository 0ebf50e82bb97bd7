import QLoRABudget
import QLoRABudgetInputs

/// `qlora-budget solve MODEL [--gpu GPU] [--find WHAT]`: the largest rank, sequence length and
/// batch that fit (and that may fit: tight), the fewest GPUs, the smallest GPU preset, and the
/// single changes that make a run fit. Every answer is the library planner's.
enum SolveCommand: Command {
  static let name = "solve"
  static let summary = "Largest rank, seq-len or batch; smallest GPU; what to change."
  static let arguments = "<model> [--gpu <gpu|size>] [--find <what>] [options]"

  /// What `--find` asks for.
  enum Question: String, CaseIterable {
    case all, rank, sequenceLength = "seq-len", batch, gpus, gpu, changes

    /// The searchable setting this question is about, if it is one.
    var setting: Setting? {
      switch self {
      case .rank: return .rank
      case .sequenceLength: return .sequenceLength
      case .batch: return .batchSize
      default: return nil
      }
    }
  }

  static let find = OptionSpec.value(
    "--find", "what",
    "What to solve for: the largest rank, seq-len or batch that fits, the fewest GPUs (with the engine and offload), the "
      + "smallest GPU preset, the single changes that make the run fit, or all of them.",
    values: Question.allCases.map(\.rawValue), default: "all")
  static let json = OptionSpec.flag("--json", "Print one JSON object (see docs/planning.md).")
  static let options: [OptionSpec] =
    [
      EstimateRequest.gpuOption(
        "gpu|size", "The GPU to plan for: a preset or a capacity such as 24GB (all but --find gpu need it)."),
      find, PlanningOptions.svg, PlanningOptions.force,
    ] + ModelSourceOptions.specs + SetupOptions.specs + [json]

  /// What `solve` found: the planner's answers to the questions asked, rendered as text or JSON.
  struct Result {
    /// The fewest GPUs that fit and that may fit, and the fewest without offload.
    struct FewestGPUs {
      let fits: Planner.GPUPlan?
      let tight: Planner.GPUPlan?
      let withoutOffload: Planner.GPUPlan?
    }

    /// The answers about the GPU given.
    struct OnGPU {
      let gpu: GPU
      let current: Evaluation
      var largest: [Planner.Answer] = []
      var fewest: FewestGPUs? = nil
      var changes: [FitChange]? = nil
    }

    let request: EstimateRequest
    /// The setup as given, estimated without a GPU's verdict (for the header).
    let estimate: MemoryEstimate
    var onGPU: OnGPU? = nil
    /// The smallest GPU preset that fits and that may fit.
    var smallest: (fits: Evaluation?, tight: Evaluation?)? = nil
  }

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    let request = try EstimateRequest(arguments, context, requiresGPU: false)
    let find = try arguments.choice(Self.find, as: Question.self) ?? .all
    let estimate = try request.estimate()
    for warning in SetupOptions.warnings(estimate) { context.warn(warning) }
    let (result, svg) = try solve(
      request, estimate, find: find, presets: context.presets, chart: arguments.value(PlanningOptions.svg) != nil)
    if let path = arguments.value(PlanningOptions.svg) {
      guard let svg else {
        throw UsageError(
          "'--svg' draws memory against rank or sequence length: use it with --gpu and --find rank, seq-len, batch or all."
        )
      }
      try PlanningOptions.write(svg, to: path, arguments)
    }
    if arguments.has(Self.json) {
      context.print(json(result).rendered())
    } else {
      let origin = ModelSourceOptions.text(
        request.source, argument: arguments.positionals.first ?? request.config?.model, summary: request.summary)
      context.standardOutput((text(result, color: context.usesColor) + origin).joined(separator: "\n") + "\n")
    }
    return .success
  }

  /// Asks the planner what `find` asks; with `chart`, also the chart of the first searched
  /// setting (about 25 more estimates, so only when it is drawn).
  static func solve(
    _ request: EstimateRequest, _ estimate: MemoryEstimate, find: Question, presets: PresetCatalog, chart wanted: Bool
  ) throws -> (Result, svg: String?) {
    let wants = { (question: Question) in find == .all || find == question }
    var result = Result(request: request, estimate: estimate)
    var svg: String?
    if let gpu = request.gpu {
      let planner = Planner(model: request.model, setup: request.setup, gpu: gpu)
      var onGPU = Result.OnGPU(
        gpu: gpu, current: try PlanningOptions.run { () throws(PlanningError) in try planner.evaluate(request.setup) })
      for question in Question.allCases where wants(question) {
        guard let setting = question.setting else { continue }
        if setting == .rank, request.setup.isFullFineTune { continue }
        let answer = try PlanningOptions.run { () throws(PlanningError) in try planner.largest(setting) }
        onGPU.largest.append(answer)
        if wanted, svg == nil, find != .all || setting == .rank || request.setup.isFullFineTune {
          svg = try chart(answer, planner)
        }
      }
      if wants(.gpus) {
        onGPU.fewest = try PlanningOptions.run { () throws(PlanningError) in
          Result.FewestGPUs(
            fits: try planner.fewestGPUs(accepting: .fits), tight: try planner.fewestGPUs(accepting: .tight),
            withoutOffload: try planner.fewestGPUs(over: Planner.EngineChoice.ladder.filter { $0.offload.isEmpty }))
        }
      }
      if wants(.changes) {
        onGPU.changes = try PlanningOptions.run { () throws(PlanningError) in try planner.changes() }
      }
      result.onGPU = onGPU
    } else if find != .gpu {
      throw UsageError("Missing '--gpu <gpu|size>': '--find \(find.rawValue)' plans for a GPU.", command: name)
    }
    if wants(.gpu) {
      let gpus = try presets.allGPUs()
      result.smallest = try PlanningOptions.run { () throws(PlanningError) in
        (
          try Planner.smallestGPU(model: request.model, setup: request.setup, among: gpus, accepting: .fits),
          try Planner.smallestGPU(model: request.model, setup: request.setup, among: gpus, accepting: .tight)
        )
      }
    }
    return (result, svg)
  }

  /// The answers in 80 columns.
  static func text(_ result: Result, color: Bool) -> [String] {
    var lines = EstimateText.header(result.estimate)
    if let onGPU = result.onGPU {
      let (gpu, current) = (onGPU.gpu, onGPU.current)
      let gpuCount = result.request.setup.gpuCount
      lines.append(
        "GPU: \(gpuCount > 1 ? "\(gpuCount) x " : "")\(CommandLineTool.oneLine(gpu.displayName)), usable \(gpu.capacity.formatted(.binary)) each"
      )
      lines.append(
        "As given: \(current.bytes.formatted(.binary)) peak process" + (gpuCount > 1 ? " per GPU" : "")
          + ", " + VerdictText.word(current.verdict, color))
      lines += completion(current)
      lines += HelpText.wrap(VerdictText.definition + ".", width: 80)
      lines.append("")
      for answer in onGPU.largest { lines += describe(answer) }
      if let fewest = onGPU.fewest {
        for (label, plan) in [("Fewest GPUs that fit", fewest.fits), ("  may fit (tight)", fewest.tight)] {
          if let plan {
            lines += gpuPlanLines(label, plan)
          } else {
            lines.append(row(label, "none", "up to \(TrainingSetup.maximumGPUCount) with any engine or offload"))
          }
        }
        if let withoutOffload = fewest.withoutOffload, fewest.fits?.choice.offload.isEmpty == false {
          lines += gpuPlanLines("Without offload, fit", withoutOffload, among: "no engine without offload")
        }
      }
      if let changes = onGPU.changes {
        lines.append("")
        lines += FitChangeText.lines(changes, verdict: current.verdict, notes: true)
      }
    }
    if let smallest = result.smallest {
      for (label, found) in [("Smallest GPU that fits", smallest.fits), ("  may fit (tight)", smallest.tight)] {
        if let found {
          lines.append(
            row(
              label, CommandLineTool.oneLine(found.gpu.name),
              "\(gib(found.bytes)) of \(found.gpu.capacity.formatted(.binary))"))
          lines += completion(found)
        } else {
          lines.append(row(label, "none", "no preset that can run it has room"))
        }
      }
    }
    return lines
  }

  /// The answers as one JSON object (docs/planning.md): keys for what `--find` asked.
  static func json(_ result: Result) -> JSONOutput {
    let request = result.request
    var json: [(String, JSONOutput)] = [
      ("model", .string(request.model.name)), ("setup", EstimateJSON.setup(request.setup)),
      ("margin", EstimateJSON.margin(.of(request.setup))),
    ]
    if let onGPU = result.onGPU {
      json += [("gpu", EstimateJSON.gpu(onGPU.gpu)), ("as_given", EstimateJSON.evaluation(onGPU.current))]
      if !onGPU.largest.isEmpty {
        json.append(("largest", .object(onGPU.largest.map { ($0.setting.rawValue, answerJSON($0)) })))
      }
      if let fewest = onGPU.fewest {
        json.append(
          (
            "fewest_gpus",
            .object([
              (Verdict.fits.rawValue, fewest.fits.map(EstimateJSON.gpuPlan) ?? .null),
              (Verdict.tight.rawValue, fewest.tight.map(EstimateJSON.gpuPlan) ?? .null),
            ])
          ))
        json.append(("fewest_gpus_without_offload", fewest.withoutOffload.map(EstimateJSON.gpuPlan) ?? .null))
      }
      if let changes = onGPU.changes { json.append(("changes", .array(changes.map(FitChangeText.json)))) }
    }
    if let smallest = result.smallest {
      json.append(
        (
          "smallest_gpu",
          .object([
            (Verdict.fits.rawValue, smallest.fits.map(EstimateJSON.evaluation) ?? .null),
            (Verdict.tight.rawValue, smallest.tight.map(EstimateJSON.evaluation) ?? .null),
          ])
        ))
    }
    json += request.summary.jsonMembers
    return .object(json)
  }

  static func gib(_ bytes: ByteCount) -> String { bytes.formatted(.binary) }

  /// The fewest-GPUs answer: the count, engine and offload, the host memory it takes, and the
  /// same engine on one GPU fewer (which does not fit).
  static func gpuPlanLines(_ label: String, _ plan: Planner.GPUPlan, among: String = "no engine or offload") -> [String]
  {
    var lines = [
      row(
        label, NumberText.grouped(plan.count), "\(gib(plan.evaluation.bytes)) per GPU, \(plan.evaluation.verdict.label)"
      )
    ]
    lines.append(
      "  engine \(plan.engine?.description ?? "none (one GPU)")"
        + (plan.evaluation.estimate.map { "; host \(gib(HostMemory($0).peak)) per GPU process" } ?? ""))
    lines += completion(plan.evaluation)
    if let fewer = plan.oneFewer {
      lines.append(
        "  on \(fewer.setup.gpuCount): \(gib(fewer.bytes)) per GPU, \(fewer.verdict.label) (\(among) does on fewer)")
    }
    return lines
  }

  /// Under a peak above the capacity that is accepted as tight: why (the run completes once the
  /// allocator releases its cache, at the process peak shown), so "23.50 GiB of 23.49 GiB"
  /// never stands unexplained.
  static func completion(_ evaluation: Evaluation) -> [String] {
    guard evaluation.headroom < 0, let completing = evaluation.estimate?.completingProcessPeak else { return [] }
    return ["    over as simulated; completes at about \(gib(completing)) with the cache released"]
  }

  /// `label  value  detail` in 80 columns.
  static func row(_ label: String, _ value: String, _ detail: String) -> String {
    String((HelpText.pad(label, 34) + EstimateText.leftPad(value, 9) + "  " + detail).prefix(80))
  }

  static func describe(_ answer: Planner.Answer) -> [String] {
    let label = "Largest " + answer.setting.label.replacingOccurrences(of: "micro-batch size", with: "batch")
    var lines: [String] = []
    if let fitting = answer.fitting {
      lines.append(row(label + " that fits", NumberText.grouped(fitting.value), gib(fitting.evaluation.bytes)))
      lines += (fitting.evaluation.estimate?.sequenceLengthWarnings ?? []).flatMap(note)
    } else {
      lines.append(row(label + " that fits", "none", "nothing fits with the margin"))
    }
    let next: String
    if let beyond = answer.beyond, let value = answer.setting.integer(in: beyond.setup) {
      next = "; \(NumberText.grouped(value)) \(beyond.verdict.label)"
    } else {
      next = answer.mayFit == nil ? "" : "; the largest value accepted"
    }
    if let mayFit = answer.mayFit {
      lines.append(row("  may fit (tight)", NumberText.grouped(mayFit.value), gib(mayFit.evaluation.bytes) + next))
      lines += completion(mayFit.evaluation)
    } else {
      lines.append(row("  may fit (tight)", "none", "nothing fits" + next))
    }
    if !answer.holes.isEmpty {
      let runs = answer.holes.map { hole in
        let values = hole.values
        let span =
          values.count == 1
          ? NumberText.grouped(values.lowerBound)
          : NumberText.grouped(values.lowerBound) + "-" + NumberText.grouped(values.upperBound)
        return span + " " + hole.verdict.label
      }
      lines += note("Below these, not as they are: " + runs.joined(separator: ", ") + ".")
    }
    if !answer.isExhaustive {
      lines += note(
        "Not checked value by value (over \(NumberText.grouped(Planner.scanLimit)) values below the floor's "
          + "boundary): walked down and bisected, so a larger value or a hole below may be missed.")
    }
    return lines
  }

  /// `text` wrapped in 80 columns under an answer, indented by 2 and continued by 4.
  static func note(_ text: String) -> [String] {
    HelpText.wrap(text, width: 76).enumerated().map { ($0.offset == 0 ? "  " : "    ") + $0.element }
  }

  static func foundJSON(_ found: Planner.Found) -> JSONOutput {
    .object([("value", .integer(found.value)), ("evaluation", EstimateJSON.evaluation(found.evaluation))])
  }

  static func answerJSON(_ answer: Planner.Answer) -> JSONOutput {
    .object([
      ("fits", answer.fitting.map(foundJSON) ?? .null),
      ("tight", answer.mayFit.map(foundJSON) ?? .null),
      (
        "beyond",
        answer.beyond.map { beyond in
          .object([
            ("value", answer.setting.integer(in: beyond.setup).map { .integer($0) } ?? .null),
            ("evaluation", EstimateJSON.evaluation(beyond)),
          ])
        } ?? .null
      ),
      (
        "holes",
        .array(
          answer.holes.map { hole in
            .object([
              ("from", .integer(hole.values.lowerBound)), ("to", .integer(hole.values.upperBound)),
              ("verdict", .string(hole.verdict.rawValue)),
            ])
          })
      ),
      ("exhaustive", .bool(answer.isExhaustive)),
      ("limit", .integer(answer.setting.searchRange?.upperBound ?? 0)),
      ("probes", .integer(Int64(answer.probes))),
    ])
  }

  /// Memory against the setting, from 1 to past the boundary, with the capacity line and the
  /// margin band (where the verdict is tight).
  static func chart(_ answer: Planner.Answer, _ planner: Planner) throws -> String {
    let setting = answer.setting
    guard let range = setting.searchRange else { return "" }
    let current = setting.integer(in: planner.setup) ?? 1
    let boundary = answer.mayFit?.value ?? 1
    let end = min(range.upperBound, max(2 * boundary, 2 * current, 8))
    var xs: [Int64] = (0...24).map { max(1, end * Int64($0) / 24) }
    xs = Array(
      Set(
        xs
          + [answer.fitting?.value, answer.mayFit?.value, answer.mayFit.map { $0.value + 1 }]
          .compactMap { $0 }.filter { $0 <= end })
    ).sorted()
    var points: [(Int64, ByteCount)] = []
    for x in xs {
      guard let change = setting.change(to: x) else { continue }
      let evaluation = try PlanningOptions.run { () throws(PlanningError) in
        try planner.evaluate(change.applied(to: planner.setup))
      }
      if !evaluation.bytes.isOverflow { points.append((x, evaluation.bytes)) }
    }
    return SVGChart.lines(
      title: "\(planner.model.name): peak process memory against \(setting.label)", xLabel: setting.label,
      series: [SVGChart.Series(label: planner.model.name, points: points)],
      capacities: [(planner.gpu.name, planner.gpu.capacity)], margin: .of(planner.setup))
  }
}

import QLoRABudget
import QLoRABudgetInputs

/// `qlora-budget estimate MODEL [options]`: the breakdown, with or without a GPU.
enum EstimateCommand: Command {
  static let name = "estimate"
  static let summary = "Show where every byte of a training step goes."
  static let arguments = "<model> [--gpu <gpu|size>] [options]"
  static let options: [OptionSpec] =
    [EstimateRequest.gpu]
    + ModelSourceOptions.specs + SetupOptions.specs + HostOptions.specs + OutputOptions.specs

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    _ = try EstimateRequest.report(arguments, context, requiresGPU: false)
    return .success
  }
}

/// `qlora-budget fit MODEL --gpu GPU|SIZE [options]`: fits (exit 0), tight (exit 2) or does not
/// fit (exit 3).
enum FitCommand: Command {
  static let name = "fit"
  static let summary = "Say whether a fine-tune fits a GPU, with headroom and breakdown."
  static let arguments = "<model> --gpu <gpu|size> [options]"
  static let options: [OptionSpec] =
    [
      EstimateRequest.gpuOption(
        "gpu|size",
        "A GPU preset (see 'presets gpus'), a capacity such as 24GB or 24GiB, or auto[:N] (this machine's GPU N through "
          + "nvidia-smi, judged against its free memory now).")
    ]
    + ModelSourceOptions.specs + SetupOptions.specs + HostOptions.specs + OutputOptions.specs

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    let (estimate, hostFits) = try EstimateRequest.report(arguments, context, requiresGPU: true)
    guard hostFits else { return .doesNotFit }
    return estimate.verdict.map(ExitStatus.init) ?? .success
  }
}

/// `--json` and `--explain`, and how an estimate is written with them.
enum OutputOptions {
  static let json = OptionSpec.flag("--json", "Print one JSON object (see docs/cli.md).")
  static let explain = OptionSpec.flag("--explain", "Show each component's formula, inputs and source.")
  static let specs: [OptionSpec] = [json, explain, PlanningOptions.svg, PlanningOptions.force]

  /// `changes`: the planner's single changes that make the run fit (nil without a GPU).
  static func write(
    _ estimate: MemoryEstimate, _ arguments: ParsedArguments, _ context: CommandContext, changes: [FitChange]? = nil,
    extraJSON: [(String, JSONOutput)] = [], extraText: [String] = []
  ) {
    for warning in SetupOptions.warnings(estimate) { context.warn(warning) }
    if arguments.has(json) {
      var object = EstimateJSON.object(estimate)
      let changesJSON = changes.map { [("changes", JSONOutput.array($0.map(FitChangeText.json)))] } ?? []
      if case .object(let members) = object { object = .object(members + changesJSON + extraJSON) }
      context.print(object.rendered())
    } else {
      context.standardOutput(
        EstimateText.render(estimate, explain: arguments.has(explain), color: context.usesColor, changes: changes))
      if !extraText.isEmpty { context.standardOutput(extraText.joined(separator: "\n") + "\n") }
    }
  }

  /// `--svg FILE`: the GPU breakdown as a stacked bar against the GPU's capacity.
  static func writeSVG(_ estimate: MemoryEstimate, _ arguments: ParsedArguments) throws {
    guard let path = arguments.value(PlanningOptions.svg) else { return }
    let bar = SVGChart.Bar(label: estimate.gpu?.name ?? estimate.model.name, segments: SVGChart.segments(estimate))
    let capacities = estimate.gpu.map { [($0.name, $0.capacity)] } ?? []
    try PlanningOptions.write(
      SVGChart.stackedBars(
        title: "\(estimate.model.name): GPU memory by component", bars: [bar], capacities: capacities,
        margin: .of(estimate.setup)), to: path,
      arguments)
  }
}

import QLoRABudget

/// `qlora-budget estimate MODEL [options]`: the breakdown, with or without a GPU.
enum EstimateCommand: Command {
  static let name = "estimate"
  static let summary = "Show where every byte of a training step goes."
  static let arguments = "<model> [--gpu <gpu|size>] [options]"
  static let options: [OptionSpec] =
    [.value("--gpu", "gpu|size", "A GPU preset or a capacity such as 24GB or 24GiB.")]
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
    [.value("--gpu", "gpu|size", "A GPU preset (see 'presets gpus') or a capacity such as 24GB or 24GiB.")]
    + ModelSourceOptions.specs + SetupOptions.specs + HostOptions.specs + OutputOptions.specs

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    let (estimate, hostFits) = try EstimateRequest.report(arguments, context, requiresGPU: true)
    guard hostFits else { return .doesNotFit }
    return estimate.verdict.map(ExitStatus.init) ?? .success
  }
}

/// The model, setup and GPU a command line asks about.
struct EstimateRequest {
  let model: ModelArchitecture
  let setup: TrainingSetup
  let gpu: GPU?
  /// Where the model came from, and the training config read (`--config`).
  let source: ModelResolver.Source
  let config: TrainingConfig?

  init(_ arguments: ParsedArguments, _ context: CommandContext, requiresGPU: Bool) throws {
    try arguments.expectPositionals(atMost: 1)
    config = try ModelSourceOptions.config(arguments)
    (model, source) = try ModelSourceOptions.model(arguments, context, config: config)
    setup = try SetupOptions.setup(from: arguments, base: config?.setup ?? TrainingSetup(), environment: context.environment)
    if config?.shardsOverGPUs == true, arguments.value("--gpus") == nil {
      context.warn("the config shards the model (FSDP or DeepSpeed) over GPUs the launcher decides; give --gpus N for the per-GPU figure (estimated for 1 GPU)")
    }
    if let gpuName = arguments.value("--gpu") {
      gpu = try SetupOptions.gpu(gpuName, presets: context.presets)
    } else if requiresGPU {
      throw UsageError("Missing '--gpu <gpu|size>': a GPU preset or a capacity such as 24GB.", command: arguments.command)
    } else {
      gpu = nil
    }
  }

  func estimate() throws -> MemoryEstimate { try Self.estimate(model, setup, gpu) }

  /// What `fit` and `estimate` do: estimate, host memory, the optional chart, the output.
  /// Returns the estimate and whether host RAM suffices (true without `--host-memory`).
  static func report(
    _ arguments: ParsedArguments, _ context: CommandContext, requiresGPU: Bool
  ) throws -> (estimate: MemoryEstimate, hostFits: Bool) {
    let request = try EstimateRequest(arguments, context, requiresGPU: requiresGPU)
    let estimate = try request.estimate()
    let (host, hostCapacity) = try HostOptions.host(estimate, arguments)
    try OutputOptions.writeSVG(estimate, arguments)
    let argument = arguments.positionals.first ?? request.config?.model
    OutputOptions.write(
      estimate, arguments, context,
      extraJSON: [("host", HostOptions.json(host, capacity: hostCapacity)), ("model_source", .string(request.source.description))]
        + (request.config.map { [("config", ConfigSummary.json($0))] } ?? []),
      extraText: HostOptions.text(host, capacity: hostCapacity)
        + ModelSourceOptions.text(request.source, argument: argument, config: request.config))
    return (estimate, hostCapacity.map { host.fits(in: $0) } ?? true)
  }

  /// The estimate, with a refused setup reported as a usage error (a value on the command line).
  static func estimate(_ model: ModelArchitecture, _ setup: TrainingSetup, _ gpu: GPU?) throws -> MemoryEstimate {
    do {
      return try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
    } catch .overflow(let component) {
      throw SetupError.overflow(component: component)
    } catch {
      // Every other setup error is about a value on the command line.
      throw SetupOptions.usageError(error)
    }
  }
}

/// `--json` and `--explain`, and how an estimate is written with them.
enum OutputOptions {
  static let specs: [OptionSpec] = [
    .flag("--json", "Print one JSON object (see docs/cli.md)."),
    .flag("--explain", "Show each component's formula, inputs and source."),
    PlanningOptions.svg,
  ]

  static func write(
    _ estimate: MemoryEstimate, _ arguments: ParsedArguments, _ context: CommandContext,
    extraJSON: [(String, JSONOutput)] = [], extraText: [String] = []
  ) {
    for warning in SetupOptions.warnings(estimate) { context.warn(warning) }
    if arguments.has("--json") {
      var object = EstimateJSON.object(estimate)
      if case .object(let members) = object { object = .object(members + extraJSON) }
      context.print(object.rendered())
    } else {
      context.standardOutput(EstimateText.render(estimate, explain: arguments.has("--explain"), color: context.usesColor))
      if !extraText.isEmpty { context.standardOutput(extraText.joined(separator: "\n") + "\n") }
    }
  }

  /// `--svg FILE`: the GPU breakdown as a stacked bar against the GPU's capacity.
  static func writeSVG(_ estimate: MemoryEstimate, _ arguments: ParsedArguments) throws {
    guard let path = arguments.value("--svg") else { return }
    let bar = SVGChart.Bar(label: estimate.gpu?.name ?? estimate.model.name, segments: SVGChart.segments(estimate))
    let capacities = estimate.gpu.map { [($0.name, $0.capacity)] } ?? []
    try PlanningOptions.write(
      SVGChart.stackedBars(title: "\(estimate.model.name): GPU memory by component", bars: [bar], capacities: capacities), to: path)
  }
}

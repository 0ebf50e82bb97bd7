import QLoRABudget
import QLoRABudgetInputs

/// The model(s), setup and GPU(s) a command line asks about: the one request every estimating
/// command reads (fit, estimate and solve one model on at most one GPU; compare one model on
/// several GPUs; table several models on several GPUs).
struct EstimateRequest {
  /// How a command names its models.
  enum Models {
    /// The positional argument, else the one the training config names.
    case one
    /// `--models a,b`, else the one the training config names.
    case list
  }

  /// How a command names its GPUs.
  enum GPUs {
    /// `--gpu X`, or none.
    case optional
    /// `--gpu X`.
    case required
    /// `--gpu X,Y,...`: one or more.
    case list
  }

  /// `--gpu`: one GPU (fit, estimate, solve) or several joined by commas (compare, table), each
  /// command with its own help.
  static func gpuOption(_ valueName: String, _ help: String) -> OptionSpec { .value("--gpu", valueName, help) }
  static let gpu = gpuOption(
    "gpu|size",
    "A GPU preset, a capacity such as 24GB or 24GiB, or auto[:N] (this machine's GPU N, its free memory now).")
  /// `--models` (table).
  static let modelList = OptionSpec.value(
    "--models", "models", "Model presets, Hub ids or config paths joined by commas.",
    default: "the --config file's model")

  let models: [(model: ModelArchitecture, source: ModelResolver.Source)]
  let setup: TrainingSetup
  let gpus: [GPU]
  /// The training config read (`--config`).
  let config: TrainingConfig?
  /// How the config and the (first) checkpoint's quantization_config were read, after the flags.
  let summary: ConfigSummary

  /// The (first) model, where it came from, and the (first) GPU.
  var model: ModelArchitecture { models[0].model }
  var source: ModelResolver.Source { models[0].source }
  var gpu: GPU? { gpus.first }

  init(_ arguments: ParsedArguments, _ context: CommandContext, requiresGPU: Bool) throws {
    try self.init(arguments, context, models: .one, gpus: requiresGPU ? .required : .optional)
  }

  init(_ arguments: ParsedArguments, _ context: CommandContext, models modelArity: Models, gpus gpuArity: GPUs) throws {
    config = try ModelSourceOptions.config(arguments)
    switch modelArity {
    case .one:
      try arguments.expectPositionals(atMost: 1)
      models = [try ModelSourceOptions.model(arguments, context, config: config)]
    case .list:
      try arguments.expectPositionals(atMost: 0)
      guard let names = try PlanningOptions.list(arguments, Self.modelList) ?? config?.model.map({ [$0] }) else {
        throw UsageError("Missing '--models <m,m...>': model presets joined by commas.", command: arguments.command)
      }
      var resolved: [(model: ModelArchitecture, source: ModelResolver.Source)] = []
      for name in names { resolved.append(try SetupOptions.model(name, arguments, context: context)) }
      models = resolved
    }
    // One model: its checkpoint's quantization_config applies over the config; several share the config's base.
    let base =
      models.count == 1
      ? TrainingSetup.configured(by: config, model: models[0].model) : config?.setup ?? TrainingSetup()
    setup = try SetupOptions.setup(from: arguments, base: base, environment: context.environment)
    summary = ConfigSummary(config: config, model: models[0].model, flags: try SetupOptions.changes(arguments))
    if config?.shardsOverGPUs == true, arguments.value(SetupOptions.spec(for: .gpuCount)) == nil {
      context.warn(
        "the config shards the model (FSDP or DeepSpeed) over GPUs the launcher decides; give --gpus N for the per-GPU figure (estimated for 1 GPU)"
      )
    }
    switch gpuArity {
    case .optional, .required:
      if let gpuName = arguments.value(Self.gpu) {
        gpus = [try SetupOptions.gpu(gpuName, presets: context.presets, environment: context.environment)]
      } else if gpuArity == .required {
        throw UsageError(
          "Missing '--gpu <gpu|size>': a GPU preset or a capacity such as 24GB.", command: arguments.command)
      } else {
        gpus = []
      }
    case .list:
      guard let names = try PlanningOptions.list(arguments, Self.gpu) else {
        throw UsageError(
          "Missing '--gpu <gpu,gpu...>': GPU presets or capacities joined by commas.", command: arguments.command)
      }
      var resolved: [GPU] = []
      for name in names {
        resolved.append(try SetupOptions.gpu(name, presets: context.presets, environment: context.environment))
      }
      gpus = resolved
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
    // With a GPU, the planner's single changes that make the run fit (none sought when it fits).
    // The verdict is the command's answer: a change the planner cannot evaluate leaves the list out.
    let changes = request.gpu.flatMap { gpu in
      estimate.verdict == .fits ? [] : try? Planner(model: request.model, setup: request.setup, gpu: gpu).changes()
    }
    OutputOptions.write(
      estimate, arguments, context, changes: changes,
      extraJSON: [
        ("host", HostOptions.json(host, capacity: hostCapacity)), ("model_source", .string(request.source.description)),
      ]
        + request.summary.jsonMembers,
      extraText: HostOptions.text(host, capacity: hostCapacity)
        + ModelSourceOptions.text(request.source, argument: argument, summary: request.summary))
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

import QLoRABudget
import QLoRABudgetInputs

/// `--config FILE` and `--download`: where fit, estimate and solve take the model and the run
/// from. Resolution and config mapping live in the library (ModelResolver, TrainingConfig);
/// this reads the options and hands over.
enum ModelSourceOptions {
  static let config = OptionSpec.value(
    "--config", "file",
    "The run's own training config (LLaMA-Factory, Axolotl or torchtune YAML; TrainingArguments/SFTConfig or "
      + "adapter_config.json JSON): its model and settings. Flags given beside it override it.")
  static let download = OptionSpec.flag(
    "--download",
    "Fetch a Hub model's config.json (HTTPS, HF_TOKEN, HF_ENDPOINT) into the HF cache when it is neither a preset "
      + "nor cached (also QLORA_BUDGET_DOWNLOAD=1).")
  static let specs: [OptionSpec] = [config, download]

  /// The config named by `--config`, if any.
  static func config(_ arguments: ParsedArguments) throws -> TrainingConfig? {
    guard let path = arguments.value(config) else { return nil }
    return try TrainingConfig(contentsOf: path)
  }

  /// The model: the positional argument, else the one the config names.
  static func model(
    _ arguments: ParsedArguments, _ context: CommandContext, config: TrainingConfig?
  ) throws -> (model: ModelArchitecture, source: ModelResolver.Source) {
    let argument: String
    if let positional = arguments.positionals.first {
      argument = positional
    } else if let named = config?.model {
      argument = named
    } else if config != nil {
      throw UsageError("The config names no model: give it as the first argument.", command: arguments.command)
    } else {
      argument = try arguments.positional(0, named: "model")
    }
    guard !argument.trimmingHorizontalWhitespace().isEmpty else {
      throw UsageError(
        "The argument '<model>' is empty: give a preset name, a config.json or model folder, or a Hub id.",
        command: arguments.command)
    }
    return try SetupOptions.model(argument, arguments, context: context)
  }

  /// A model-source error as the command line says it: the download hint names `--download`.
  static func words(_ error: ModelSourceError) -> String {
    error.described { hint in
      guard hint == .notAllowed else { return hint.description }
      return
        "Not downloaded: pass \(download.name) (or set \(ModelResolver.downloadVariable)=1) to fetch its config.json from the Hub"
    }
  }

  /// What `fit` and `estimate` add to their text output: where the model came from (when not
  /// a preset named directly) and the config's keys.
  static func text(_ source: ModelResolver.Source, argument: String?, summary: ConfigSummary) -> [String] {
    var lines: [String] = []
    var namedDirectly = false
    if case .preset = source { namedDirectly = !(argument ?? "").contains("/") }
    if !namedDirectly { lines.append(CommandLineTool.oneLine("Model: \(argument ?? "") from \(source)")) }
    return lines + summary.text
  }
}

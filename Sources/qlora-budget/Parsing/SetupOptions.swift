import Foundation
import QLoRABudget
import QLoRABudgetInputs

/// The options every estimating command shares (fit, estimate, and the planning commands),
/// and how they become a ``TrainingSetup``. This is the one table that maps the library's
/// settings to flags; help text, parsing and error messages all come from it.
enum SetupOptions {
  /// A setting's flag, the name of its value in help, its help text and its default in words.
  struct Flag {
    let setting: Setting
    let name: String
    let valueName: String
    let help: String
    let defaultText: String?
    /// A flag without a value (`--dora`) sets a boolean setting to true.
    var isSwitch = false

    /// The option as the parser and help see it.
    var spec: OptionSpec {
      isSwitch
        ? .flag(name, help) : .value(name, valueName, help, values: setting.domain.listedValues, default: defaultText)
    }
  }

  static let flags: [Flag] = [
    Flag(
      setting: .quantization, name: "--quant", valueName: "type", help: "Base weight quantization.", defaultText: "nf4"),
    Flag(
      setting: .doubleQuantization, name: "--double-quant", valueName: "bool",
      help: "Quantize the 4-bit absmax again (bnb_4bit_use_double_quant).", defaultText: "true"),
    Flag(
      setting: .blockSize, name: "--blocksize", valueName: "n", help: "Elements per 4-bit absmax block.",
      defaultText: "64"),
    Flag(setting: .rank, name: "--rank", valueName: "n", help: "LoRA rank r.", defaultText: "16"),
    Flag(
      setting: .alpha, name: "--alpha", valueName: "n", help: "lora_alpha (changes no byte).", defaultText: "2 x rank"),
    Flag(
      setting: .targets, name: "--targets", valueName: "modules",
      help: "all-linear, peft-default, or module names joined by commas.", defaultText: "all-linear"),
    Flag(
      setting: .dora, name: "--dora", valueName: "",
      help: "Weight-decomposed LoRA (adds a magnitude vector per module).",
      defaultText: nil, isSwitch: true),
    Flag(
      setting: .loraDropout, name: "--lora-dropout", valueName: "p",
      help: "LoRA dropout; above 0 the branch keeps a dropped-out input copy.",
      defaultText: "0.05; 0 with --recipe unsloth"),
    Flag(
      setting: .modulesToSave, name: "--modules-to-save", valueName: "modules",
      help: "peft modules_to_save: each listed module (e.g. embed_tokens,lm_head) gets a full trainable copy, with its "
        + "gradient and optimizer state.", defaultText: "none"),
    Flag(setting: .optimizer, name: "--optimizer", valueName: "name", help: "Optimizer.", defaultText: "adamw"),
    Flag(setting: .computeDtype, name: "--dtype", valueName: "type", help: "Compute dtype.", defaultText: "bf16"),
    Flag(
      setting: .recipe, name: "--recipe", valueName: "name", help: "Training framework recipe.", defaultText: "hf-peft"),
    Flag(
      setting: .sequenceLength, name: "--seq-len", valueName: "tokens", help: "Sequence length.", defaultText: "2048"),
    Flag(setting: .batchSize, name: "--batch", valueName: "n", help: "Micro-batch size per GPU.", defaultText: "1"),
    Flag(
      setting: .gradientCheckpointing, name: "--grad-ckpt", valueName: "bool", help: "Gradient checkpointing.",
      defaultText: "the recipe's (on)"),
    Flag(
      setting: .attention, name: "--attn", valueName: "impl",
      help: "Attention implementation; with --recipe unsloth, the backend its own layers run (flash: flash-attn "
        + "installed, xformers, or sdpa: neither).",
      defaultText: "sdpa; xformers in Unsloth's own layers"),
    Flag(
      setting: .loss, name: "--loss", valueName: "kind",
      help:
        "Cross-entropy: standard (full fp32 logits), fp32-logits (transformers <= 4.45: the model returns fp32 "
        + "logits), chunked (the recipe's chunked loss), or a named one.",
      defaultText: "the recipe's (standard)"),
    Flag(
      setting: .loop, name: "--loop", valueName: "style",
      help: "What the loop keeps of the output: trainer (HF Trainer) or plain (out = model(...)).",
      defaultText: "the recipe's (trainer)"),
    Flag(
      setting: .platform, name: "--platform", valueName: "kernels",
      help: "Kernels the step runs on (cpu: compare with CPU-measured steps).", defaultText: "cuda"),
    Flag(
      setting: .allocator, name: "--alloc-conf", valueName: "conf",
      help: "CUDA caching allocator settings as PYTORCH_CUDA_ALLOC_CONF writes them (also read from that variable).",
      defaultText: "the recipe's (PyTorch defaults)"),
    Flag(
      setting: .autocast, name: "--autocast", valueName: "bool",
      help: "Mixed-precision autocast (HF Trainer bf16/fp16=True).",
      defaultText: "true"),
    Flag(
      setting: .gpuCount, name: "--gpus", valueName: "n",
      help: "GPUs the run is spread over (see --engine); figures are per GPU.", defaultText: "1, or one per --nodes"),
    Flag(
      setting: .fullFineTune, name: "--full-finetune", valueName: "",
      help: "Full fine-tuning of every parameter instead of LoRA, for comparison.", defaultText: nil, isSwitch: true),
    Flag(
      setting: .fullFineTunePrecision, name: "--precision", valueName: "mode",
      help: "Full fine-tuning: pure (weights, gradients, AdamW moments in --dtype: 8 B/param) or mixed (fp32 master "
        + "weights, gradients and moments: 16 B/param).", defaultText: "pure"),
    Flag(
      setting: .engine, name: "--engine", valueName: "name",
      help: "How --gpus GPUs share the model: FSDP FULL_SHARD or HYBRID_SHARD, or DeepSpeed ZeRO stage 1, 2, 3.",
      defaultText: "fsdp"),
    Flag(
      setting: .nodeCount, name: "--nodes", valueName: "n",
      help: "Machines the GPUs are in (a divisor of --gpus); fsdp-hybrid shards within one.", defaultText: "1"),
    Flag(
      setting: .offload, name: "--offload", valueName: "what",
      help: "Move to host memory: optimizer (ZeRO offload_optimizer), params (ZeRO-3 offload_param, FSDP CPUOffload), "
        + "or both joined by a comma.", defaultText: "none"),
    Flag(
      setting: .reduceBucketSize, name: "--reduce-bucket-size", valueName: "elements",
      help:
        "DeepSpeed reduce_bucket_size: gradient elements reduced at a time. 'auto': HF's value from the hidden size.",
      defaultText: "500000000"),
    Flag(
      setting: .prefetchBucketSize, name: "--stage3-prefetch-bucket-size", valueName: "elements",
      help: "DeepSpeed ZeRO-3 parameter elements fetched ahead of use. 'auto': HF's value from the hidden size.",
      defaultText: "50000000"),
    Flag(
      setting: .maxLiveParameters, name: "--stage3-max-live-parameters", valueName: "elements",
      help: "DeepSpeed ZeRO-3 parameter elements gathered at once, at most.", defaultText: "1000000000"),
    Flag(
      setting: .persistenceThreshold, name: "--stage3-param-persistence-threshold", valueName: "elements",
      help: "DeepSpeed ZeRO-3: tensors this small are not partitioned. 'auto': HF's value from the hidden size.",
      defaultText: "100000"),
  ]

  /// How the model is read: not a setting of the run, so not in ``flags``.
  static let readAs = OptionSpec.value(
    "--read-as", "family", "Read a config whose model_type is not modelled as this family (otherwise refused).",
    values: ModelArchitecture.knownModelTypes)

  static let specs: [OptionSpec] = [readAs] + flags.map(\.spec) + [DeepSpeedOption.spec]

  /// The option of `setting`, e.g. `--rank <n>`.
  static func spec(for setting: Setting) -> OptionSpec {
    flags.first { $0.setting == setting }?.spec ?? .value(setting.rawValue, "value", setting.label)
  }

  /// The flag of `setting`, e.g. `--rank`.
  static func flag(for setting: Setting) -> String {
    flags.first { $0.setting == setting }?.name ?? setting.rawValue
  }

  /// A change as it is typed: `--optimizer paged-adamw`, `--dora`.
  static func typed(_ change: SettingChange) -> String {
    let entry = flags.first { $0.setting == change.setting }
    if let entry, entry.isSwitch { return change.valueText == "true" ? entry.name : "" }
    return flag(for: change.setting) + " " + change.valueText
  }

  /// The setup the options describe, over `base` (a training config's, or the defaults); every
  /// value is checked and named in the error.
  static func setup(
    from arguments: ParsedArguments, base: TrainingSetup = TrainingSetup(), environment: [String: String] = [:]
  ) throws(UsageError) -> TrainingSetup {
    // A DeepSpeed config first (over the base): the flags override it.
    var setup = try DeepSpeedOption.setup(arguments, base: base) ?? base
    // The allocator settings the run would get from its environment, unless a flag gives them.
    if arguments.value(spec(for: .allocator)) == nil, let text = environment[allocatorVariable], !text.isEmpty {
      do {
        setup = try Setting.allocator.parse(text).applied(to: setup)
      } catch {
        throw .invalidValue(text, for: allocatorVariable, error.expected)
      }
    }
    setup = SettingChange.apply(try flagChanges(arguments).map(\.change), to: setup)
    // --nodes without --gpus: one GPU per node (the GPU count is a multiple of the nodes).
    let given = { (setting: Setting) in arguments.value(spec(for: setting)) != nil }
    if !given(.gpuCount), given(.nodeCount), setup.gpuCount < setup.nodeCount {
      setup.gpuCount = setup.nodeCount
    }
    // Without --alpha, alpha follows a rank given here (over a config's alpha); otherwise the base's stands.
    if !given(.alpha), given(.rank) { setup.lora.givenAlpha = nil }
    return setup
  }

  /// The changes the flags make, each with the flag as typed, for the config accounting: without
  /// --alpha, a rank given here also sets alpha (it follows the rank, over a config's alpha).
  static func changes(_ arguments: ParsedArguments) throws(UsageError) -> [(flag: String, change: SettingChange)] {
    var changes = try flagChanges(arguments)
    if arguments.value(spec(for: .alpha)) == nil, let rank = changes.last(where: { $0.change.setting == .rank }),
      let value = rank.change.integerValue
    {
      changes.append((rank.flag, .alpha(LoRAConfiguration.defaultAlpha(rank: value))))
    }
    return changes
  }

  /// Each flag given, as typed, with the change it makes.
  private static func flagChanges(_ arguments: ParsedArguments) throws(UsageError) -> [(
    flag: String, change: SettingChange
  )] {
    var changes: [(flag: String, change: SettingChange)] = []
    for flag in flags {
      let text: String
      if flag.isSwitch {
        guard arguments.has(flag.spec) else { continue }
        text = "true"
      } else {
        guard let value = arguments.value(flag.spec) else { continue }
        text = value
      }
      do {
        changes.append((flag.isSwitch ? flag.name : flag.name + " " + text, try flag.setting.parse(text)))
      } catch {
        throw .invalidValue(text, for: flag.name, error.expected)
      }
    }
    return changes
  }

  /// The environment variable PyTorch reads its allocator settings from.
  static let allocatorVariable = "PYTORCH_CUDA_ALLOC_CONF"

  /// A setup the estimator refused, as the command line's error: it names the flag.
  static func usageError(_ error: SetupError) -> UsageError {
    if case .outOfRange(let setting, let value, let allowed) = error {
      return .invalidValue(value, for: flag(for: setting), allowed)
    }
    return UsageError(error.description)
  }

  /// The model `argument` names (a preset, a config.json or a folder, a Hub id: see
  /// ``ModelResolver``; the Hub only with `--download`), read as `--read-as` says. A `model_type`
  /// that is not modelled is refused (exit 1), naming the flag that overrides it.
  static func model(
    _ argument: String, _ arguments: ParsedArguments, context: CommandContext
  ) throws -> (model: ModelArchitecture, source: ModelResolver.Source) {
    let readAs = arguments.value(Self.readAs)?.lowercased()
    if let readAs, !ModelArchitecture.knownModelTypes.contains(readAs) {
      throw UsageError.invalidValue(
        readAs, for: "--read-as", "use one of \(ModelArchitecture.knownModelTypes.joined(separator: ", "))")
    }
    let resolver = ModelResolver(
      presets: context.presets, environment: context.environment,
      allowsDownload: arguments.has(ModelSourceOptions.download))
    do {
      return try resolver.resolve(argument, readAs: readAs)
    } catch {
      guard case .preset(.invalidConfig(let cause)) = error, cause.isUnmodelledType else { throw error }
      throw RefusedModel(message: cause.description + " (--read-as <family>)")
    }
  }

  /// What a warning about `incompatibility` adds on the command line: the flag that avoids it.
  static func warning(_ incompatibility: HardwareIncompatibility) -> String {
    switch incompatibility {
    case .computeDtypeUnsupported: return incompatibility.description + "; use --dtype fp16"
    case .bitsandbytesUnavailable: return incompatibility.description + "; use --quant none --optimizer adamw"
    }
  }

  /// Everything an estimate warns about, as stderr shows it.
  static func warnings(_ estimate: MemoryEstimate) -> [String] {
    estimate.model.warnings + estimate.sequenceLengthWarnings + estimate.incompatibilities.map(warning)
  }

  /// A GPU preset name or a capacity such as `24GB` / `24GiB`.
  static func gpu(_ text: String, presets: PresetCatalog, environment: [String: String]) throws -> GPU {
    if LocalGPUOption.isLocal(text) { return try LocalGPUOption.gpu(text, presets: presets, environment: environment) }
    // A sign or a leading dot starts a size too (`-1GB` is a size refused, not an unknown GPU).
    if let first = text.first, first.isNumber || "+-.".contains(first) {
      do {
        return GPU.custom(capacity: try ByteCount(parsing: text), label: text)
      } catch {
        // `4090` is more likely part of a preset's name than a size without its unit.
        let key = text.lowercased()
        let named =
          key.count >= 3 ? presets.gpuNames.filter { $0.contains(key) }.min { ($0.count, $0) < ($1.count, $1) } : nil
        throw UsageError.invalidValue(
          text, for: EstimateRequest.gpu.name, error.description + (named.map { "; did you mean '\($0)'?" } ?? ""))
      }
    }
    return try presets.gpu(named: text)
  }
}

/// A model the estimator will not read as it stands (exit code 1, not a usage error).
struct RefusedModel: Error, CustomStringConvertible {
  let message: String
  var description: String { message }
}

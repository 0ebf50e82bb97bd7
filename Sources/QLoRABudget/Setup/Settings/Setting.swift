/// The vocabulary of a training setup: every setting a planner, a table, a comparison or a
/// command line can change, with its label, the values it allows and how it reads a value
/// written as text. The library names settings, never command-line flags: a front end maps
/// each setting to its own spelling (the CLI does so in one table).
///
///     let change = try Setting.rank.parse("32")      // .rank(32)
///     let setup = change.applied(to: TrainingSetup())
///
/// The raw values are the keys of the setup in JSON output.
public enum Setting: String, CaseIterable, Hashable, Sendable {
  case quantization = "quant"
  case doubleQuantization = "double_quant"
  case blockSize = "blocksize"
  case rank
  case alpha
  case targets
  case dora
  case loraDropout = "lora_dropout"
  case modulesToSave = "modules_to_save"
  case optimizer
  case computeDtype = "dtype"
  case recipe
  case sequenceLength = "seq_len"
  case batchSize = "batch"
  case gradientCheckpointing = "grad_ckpt"
  case attention = "attn"
  case loss
  case autocast
  case gpuCount = "gpus"
  case fullFineTune = "full_finetune"
  case fullFineTunePrecision = "precision"
  case engine
  case nodeCount = "nodes"
  case offload
  case reduceBucketSize = "reduce_bucket_size"
  case prefetchBucketSize = "stage3_prefetch_bucket_size"
  case maxLiveParameters = "stage3_max_live_parameters"
  case persistenceThreshold = "stage3_param_persistence_threshold"
  case loop
  case platform
  case allocator = "alloc_conf"

  /// The setting in words, e.g. "LoRA rank".
  public var label: String {
    switch self {
    case .quantization: return "base quantization"
    case .doubleQuantization: return "double quantization"
    case .blockSize: return "4-bit block size"
    case .rank: return "LoRA rank"
    case .alpha: return "lora_alpha"
    case .targets: return "LoRA target modules"
    case .dora: return "DoRA"
    case .loraDropout: return "LoRA dropout"
    case .modulesToSave: return "modules to save (full trainable copies)"
    case .optimizer: return "optimizer"
    case .computeDtype: return "compute dtype"
    case .recipe: return "recipe"
    case .sequenceLength: return "sequence length"
    case .batchSize: return "micro-batch size"
    case .gradientCheckpointing: return "gradient checkpointing"
    case .attention: return "attention implementation"
    case .loss: return "cross-entropy"
    case .autocast: return "autocast"
    case .gpuCount: return "GPU count"
    case .fullFineTune: return "full fine-tuning"
    case .fullFineTunePrecision: return "full fine-tuning precision"
    case .engine: return "multi-GPU engine"
    case .nodeCount: return "node count"
    case .offload: return "engine offload"
    case .reduceBucketSize, .prefetchBucketSize, .maxLiveParameters, .persistenceThreshold:
      return "DeepSpeed " + rawValue
    case .loop: return "training loop"
    case .platform: return "kernel platform"
    case .allocator: return "allocator settings"
    }
  }

  /// The values a setting allows.
  public enum Domain: Hashable, Sendable {
    case choices([String])
    case integers(ClosedRange<Int64>)
    case numbers(ClosedRange<Double>)
    case boolean
    /// `all-linear`, `peft-default`, or module names joined by commas.
    case moduleNames
    /// A whole number of tensor elements (DeepSpeed's bucket keys), or `auto` where HF's
    /// Trainer fills one in from the model.
    case elements(allowsAuto: Bool)
    /// `none`, `optimizer`, `params`, or both joined by a comma.
    case offloads
    /// `none`, or module names joined by commas (peft's `modules_to_save`).
    case savedModules
    /// `PYTORCH_CUDA_ALLOC_CONF` text: `key:value` pairs joined by commas.
    case allocatorConfiguration

    /// Every allowed value, where they can be listed (help and completions); empty otherwise.
    public var listedValues: [String] {
      switch self {
      case .choices(let names): return names
      case .offloads: return ["none", "optimizer", "params", "optimizer,params"]
      default: return []
      }
    }

    /// The allowed values in words, as an error or a help text shows them.
    public var description: String {
      switch self {
      case .choices(let names): return "one of " + names.joined(separator: ", ")
      case .integers(let range): return "a whole number from \(range.lowerBound) to \(range.upperBound)"
      case .numbers(let range): return "a number from \(range.lowerBound) to \(range.upperBound)"
      case .boolean: return "true or false"
      case .moduleNames: return "all-linear, peft-default, or module names joined by commas"
      case .elements(let allowsAuto):
        return "a whole number of elements from 0 to \(Setting.maximumBucketElements)" + (allowsAuto ? ", or auto" : "")
      case .offloads: return "none, optimizer, params, or optimizer,params"
      case .savedModules: return "none, or module names joined by commas (e.g. embed_tokens,lm_head)"
      case .allocatorConfiguration:
        return "PYTORCH_CUDA_ALLOC_CONF text, e.g. expandable_segments:True,max_split_size_mb:128"
      }
    }
  }

  public var domain: Domain {
    switch self {
    case .quantization: return .choices(BaseQuantization.allCases.map(\.rawValue))
    case .blockSize: return .choices(TrainingSetup.blockSizes.map(String.init))
    case .rank: return .integers(1...LoRAConfiguration.maximumRank)
    case .alpha: return .numbers(1e-6...1e9)
    case .targets: return .moduleNames
    case .loraDropout: return .numbers(0...0.999)
    case .modulesToSave: return .savedModules
    case .optimizer: return .choices(Optimizer.allCases.map(\.rawValue))
    case .computeDtype: return .choices(ComputeDtype.allCases.map(\.rawValue))
    case .recipe: return .choices(Recipe.all.map(\.name))
    case .sequenceLength: return .integers(1...TrainingSetup.maximumSequenceLength)
    case .batchSize: return .integers(1...TrainingSetup.maximumBatchSize)
    case .attention: return .choices(AttentionImplementation.allCases.map(\.rawValue))
    case .loss: return .choices(LossKind.allCases.map(\.rawValue))
    case .gpuCount: return .integers(1...TrainingSetup.maximumGPUCount)
    case .fullFineTunePrecision: return .choices(FullFineTunePrecision.allCases.map(\.rawValue))
    case .engine: return .choices(ParallelEngine.allCases.map(\.rawValue))
    case .nodeCount: return .integers(1...TrainingSetup.maximumGPUCount)
    case .offload: return .offloads
    case .reduceBucketSize, .prefetchBucketSize, .persistenceThreshold: return .elements(allowsAuto: true)
    case .maxLiveParameters: return .elements(allowsAuto: false)
    case .loop: return .choices(TrainingLoop.allCases.map(\.rawValue))
    case .platform: return .choices(KernelPlatform.allCases.map(\.rawValue))
    case .allocator: return .allocatorConfiguration
    case .doubleQuantization, .dora, .gradientCheckpointing, .autocast, .fullFineTune: return .boolean
    }
  }

  /// The largest DeepSpeed bucket size accepted, in elements (2^50).
  public static let maximumBucketElements: Int64 = 1 << 50

  /// The settings a planner can search for the largest value that fits.
  public static let searchable: [Setting] = [.rank, .sequenceLength, .batchSize]

  /// The whole-number range of a searchable setting (nil for the others).
  public var searchRange: ClosedRange<Int64>? {
    guard Self.searchable.contains(self), case .integers(let range) = domain else { return nil }
    return range
  }

  /// `value` as a change of this whole-number setting (nil for a setting that is not one).
  public func change(to value: Int64) -> SettingChange? {
    switch self {
    case .rank: return .rank(value)
    case .sequenceLength: return .sequenceLength(value)
    case .batchSize: return .batchSize(value)
    case .blockSize: return .blockSize(value)
    case .gpuCount: return .gpuCount(value)
    case .nodeCount: return .nodeCount(value)
    case .quantization, .doubleQuantization, .alpha, .targets, .dora, .loraDropout, .modulesToSave, .optimizer,
      .computeDtype, .recipe,
      .gradientCheckpointing, .attention, .loss, .autocast, .fullFineTune, .fullFineTunePrecision, .engine, .offload,
      .reduceBucketSize, .prefetchBucketSize, .maxLiveParameters, .persistenceThreshold, .loop, .platform, .allocator:
      return nil
    }
  }

  /// The value of this setting in `setup`, as a change that would set it.
  public func current(in setup: TrainingSetup) -> SettingChange {
    switch self {
    case .quantization: return .quantization(setup.effectiveQuantization)
    case .doubleQuantization: return .doubleQuantization(setup.usesDoubleQuantization)
    case .blockSize: return .blockSize(setup.blockSize)
    case .rank: return .rank(setup.lora.rank)
    case .alpha: return .alpha(setup.lora.alpha)
    case .targets: return .targets(setup.lora.targets)
    case .dora: return .dora(setup.lora.usesDoRA)
    case .loraDropout: return .loraDropout(setup.loraDropout)
    case .modulesToSave: return .modulesToSave(setup.lora.modulesToSave)
    case .optimizer: return .optimizer(setup.optimizer)
    case .computeDtype: return .computeDtype(setup.computeDtype)
    case .recipe: return .recipe(setup.recipe)
    case .sequenceLength: return .sequenceLength(setup.sequenceLength)
    case .batchSize: return .batchSize(setup.batchSize)
    case .gradientCheckpointing: return .gradientCheckpointing(setup.usesGradientCheckpointing)
    case .attention: return .attention(setup.attention)
    case .loss: return .loss(setup.effectiveLoss)
    case .autocast: return .autocast(setup.usesAutocast)
    case .gpuCount: return .gpuCount(setup.gpuCount)
    case .fullFineTune: return .fullFineTune(setup.isFullFineTune)
    case .fullFineTunePrecision: return .fullFineTunePrecision(setup.fullFineTunePrecision)
    case .engine: return .engine(setup.engine)
    case .nodeCount: return .nodeCount(setup.nodeCount)
    case .offload: return .offload(setup.offload)
    case .reduceBucketSize: return .reduceBucketSize(setup.deepSpeed.reduceBucketSize)
    case .prefetchBucketSize: return .prefetchBucketSize(setup.deepSpeed.prefetchBucketSize)
    case .maxLiveParameters: return .maxLiveParameters(setup.deepSpeed.maxLiveParameters)
    case .persistenceThreshold: return .persistenceThreshold(setup.deepSpeed.persistenceThreshold)
    case .loop: return .loop(setup.trainingLoop)
    case .platform: return .platform(setup.platform)
    case .allocator: return .allocator(setup.allocator)
    }
  }

  /// The whole-number value of this setting in `setup` (nil for a setting that is not one).
  public func integer(in setup: TrainingSetup) -> Int64? { current(in: setup).integerValue }
}

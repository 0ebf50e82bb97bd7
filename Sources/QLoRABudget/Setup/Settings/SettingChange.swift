/// One setting set to one value: what a planner proposes, a table varies and a command line
/// gives. Applying a change never fails; ``TrainingSetup/validate()`` judges the result.
public enum SettingChange: Hashable, Sendable {
  case quantization(BaseQuantization)
  case doubleQuantization(Bool)
  case blockSize(Int64)
  case rank(Int64)
  case alpha(Double)
  case targets(LoRATargets)
  case dora(Bool)
  case loraDropout(Double)
  /// peft's `modules_to_save`: module names (empty: none).
  case modulesToSave([String])
  case optimizer(Optimizer)
  case computeDtype(ComputeDtype)
  case recipe(Recipe)
  case sequenceLength(Int64)
  case batchSize(Int64)
  case gradientCheckpointing(Bool)
  case attention(AttentionImplementation)
  case loss(LossKind)
  case autocast(Bool)
  case gpuCount(Int64)
  case fullFineTune(Bool)
  case fullFineTunePrecision(FullFineTunePrecision)
  case engine(ParallelEngine)
  case nodeCount(Int64)
  case offload(EngineOffload)
  /// nil: `auto` (HF's Trainer fills it from the model's hidden size).
  case reduceBucketSize(Int64?)
  case prefetchBucketSize(Int64?)
  case maxLiveParameters(Int64)
  case persistenceThreshold(Int64?)
  case loop(TrainingLoop)
  case platform(KernelPlatform)
  case allocator(AllocatorSettings)

  public var setting: Setting {
    switch self {
    case .quantization: return .quantization
    case .doubleQuantization: return .doubleQuantization
    case .blockSize: return .blockSize
    case .rank: return .rank
    case .alpha: return .alpha
    case .targets: return .targets
    case .dora: return .dora
    case .loraDropout: return .loraDropout
    case .modulesToSave: return .modulesToSave
    case .optimizer: return .optimizer
    case .computeDtype: return .computeDtype
    case .recipe: return .recipe
    case .sequenceLength: return .sequenceLength
    case .batchSize: return .batchSize
    case .gradientCheckpointing: return .gradientCheckpointing
    case .attention: return .attention
    case .loss: return .loss
    case .autocast: return .autocast
    case .gpuCount: return .gpuCount
    case .fullFineTune: return .fullFineTune
    case .fullFineTunePrecision: return .fullFineTunePrecision
    case .engine: return .engine
    case .nodeCount: return .nodeCount
    case .offload: return .offload
    case .reduceBucketSize: return .reduceBucketSize
    case .prefetchBucketSize: return .prefetchBucketSize
    case .maxLiveParameters: return .maxLiveParameters
    case .persistenceThreshold: return .persistenceThreshold
    case .loop: return .loop
    case .platform: return .platform
    case .allocator: return .allocator
    }
  }

  /// The value as text, in the spelling ``Setting/parse(_:)`` reads back.
  public var valueText: String {
    switch self {
    case .quantization(let q): return q.rawValue
    case .optimizer(let o): return o.rawValue
    case .computeDtype(let d): return d.rawValue
    case .recipe(let r): return r.name
    case .attention(let a): return a.rawValue
    case .loss(let l): return l.rawValue
    case .fullFineTunePrecision(let p): return p.rawValue
    case .engine(let e): return e.rawValue
    case .offload(let o): return o.description
    case .nodeCount(let v), .maxLiveParameters(let v): return String(v)
    case .reduceBucketSize(let v), .prefetchBucketSize(let v), .persistenceThreshold(let v):
      return v.map(String.init) ?? "auto"
    case .loop(let l): return l.rawValue
    case .platform(let p): return p.rawValue
    case .allocator(let a): return a.isDefault ? Self.defaultAllocatorText : a.configuration
    case .targets(let t): return t.description
    case .modulesToSave(let names): return names.isEmpty ? "none" : names.joined(separator: ",")
    case .doubleQuantization(let b), .dora(let b), .gradientCheckpointing(let b), .autocast(let b),
      .fullFineTune(let b):
      return b ? "true" : "false"
    case .blockSize(let v), .rank(let v), .sequenceLength(let v), .batchSize(let v), .gpuCount(let v): return String(v)
    case .alpha(let x), .loraDropout(let x): return Setting.numberText(x)
    }
  }

  /// The allocator settings' value text for PyTorch's defaults.
  static let defaultAllocatorText = "pytorch-default"

  /// The value of a whole-number setting (nil for the others).
  public var integerValue: Int64? {
    switch self {
    case .rank(let v), .sequenceLength(let v), .batchSize(let v), .blockSize(let v), .gpuCount(let v),
      .nodeCount(let v):
      return v
    case .quantization, .doubleQuantization, .alpha, .targets, .dora, .loraDropout, .modulesToSave, .optimizer,
      .computeDtype, .recipe,
      .gradientCheckpointing, .attention, .loss, .autocast, .fullFineTune, .fullFineTunePrecision, .engine, .offload,
      .reduceBucketSize, .prefetchBucketSize, .maxLiveParameters, .persistenceThreshold, .loop, .platform, .allocator:
      return nil
    }
  }

  /// `setup` with this change made. A rank change moves lora_alpha with it unless alpha was
  /// given (``LoRAConfiguration/alpha``).
  public func applied(to setup: TrainingSetup) -> TrainingSetup {
    var changed = setup
    switch self {
    case .quantization(let q): changed.quantization = q
    case .doubleQuantization(let b): changed.usesDoubleQuantization = b
    case .blockSize(let v): changed.blockSize = v
    case .rank(let v): changed.lora.rank = v
    case .alpha(let x): changed.lora.alpha = x
    case .targets(let t): changed.lora.targets = t
    case .dora(let b): changed.lora.usesDoRA = b
    case .loraDropout(let x): changed.lora.givenDropout = x
    case .modulesToSave(let names): changed.lora.modulesToSave = names
    case .optimizer(let o): changed.optimizer = o
    case .computeDtype(let d): changed.computeDtype = d
    case .recipe(let r): changed.recipe = r
    case .sequenceLength(let v): changed.sequenceLength = v
    case .batchSize(let v): changed.batchSize = v
    case .gradientCheckpointing(let b): changed.gradientCheckpointing = b
    case .attention(let a): changed.attention = a
    case .loss(let l): changed.loss = l
    case .autocast(let b): changed.usesAutocast = b
    case .gpuCount(let v): changed.gpuCount = v
    case .fullFineTune(let b): changed.isFullFineTune = b
    case .fullFineTunePrecision(let p): changed.fullFineTunePrecision = p
    case .engine(let e): changed.engine = e
    case .nodeCount(let v): changed.nodeCount = v
    case .offload(let o): changed.offload = o
    case .reduceBucketSize(let v): changed.deepSpeed.reduceBucketSize = v
    case .prefetchBucketSize(let v): changed.deepSpeed.prefetchBucketSize = v
    case .maxLiveParameters(let v): changed.deepSpeed.maxLiveParameters = v
    case .persistenceThreshold(let v): changed.deepSpeed.persistenceThreshold = v
    case .loop(let l): changed.loop = l
    case .platform(let p): changed.platform = p
    case .allocator(let a): changed.allocatorConfiguration = a
    }
    return changed
  }

  /// `setup` with every change made, in order.
  public static func apply(_ changes: [SettingChange], to setup: TrainingSetup) -> TrainingSetup {
    changes.reduce(setup) { $1.applied(to: $0) }
  }
}

import QLoRABudget
import QLoRABudgetInputs

/// The `--json` object of `fit` and `estimate`: the library's contract with scripts
/// (documented field by field in docs/cli.md). Bytes are integers; null means absent (no GPU given).
/// Host memory has one figure, the `host` object's (``HostMemory``), added by the commands.
enum EstimateJSON {
  static func object(_ estimate: MemoryEstimate) -> JSONOutput {
    let setup = estimate.setup
    let peak = estimate.peak
    let reserveObject = estimate.reserve.map(reserve) ?? .null
    return .object([
      ("model", model(estimate.model)),
      ("setup", self.setup(setup)),
      ("components", .array(estimate.components.map(component))),
      ("trainable_parameters", .integer(estimate.trainableParameters)),
      ("resident_bytes", .bytes(estimate.residentBytes)),
      ("peak_allocated_bytes", .bytes(peak.allocated)),
      ("peak_reserved_bytes", .bytes(peak.reserved)),
      ("peak_process_bytes", .bytes(peak.process)),
      ("peak_phase", .string(peak.phase.rawValue)),
      ("reserve", reserveObject),
      (
        "peak_parts",
        .array(estimate.peakParts.map { .object([("label", .string($0.label)), ("bytes", .bytes($0.bytes))]) })
      ),
      (
        "step",
        .object([
          ("platform", .string(setup.platform.rawValue)),
          ("saved_for_backward_bytes", .bytes(estimate.step.savedForBackward)),
          ("phases", .object(estimate.step.phases.map { ($0.name.rawValue, .bytes($0.bytes)) })),
        ])
      ),
      ("gpu", estimate.gpu.map(gpu) ?? .null),
      ("headroom_bytes", estimate.headroom.map { .integer($0) } ?? .null),
      ("verdict", estimate.verdict.map { .string($0.rawValue) } ?? .null),
      ("completing_process_bytes", estimate.judgement?.completingProcessPeak.map { .bytes($0) } ?? .null),
      ("margin", margin(.of(estimate.setup))),
      ("context_uncertainty_bytes", estimate.gpu == nil ? .null : .bytes(estimate.contextUncertainty)),
      ("assumptions", .array(estimate.assumptions.map { .string($0) })),
      ("warnings", .array(estimate.warnings.map { .string($0) })),
      ("incompatibilities", .array(estimate.incompatibilities.map(incompatibility))),
      ("notes", .array(estimate.notes.map { .string($0) })),
    ])
  }

  static func model(_ model: ModelArchitecture) -> JSONOutput {
    .object([
      ("name", .string(model.name)),
      ("model_type", .string(model.modelType)),
      ("read_as", model.readAs.map { .string($0) } ?? .null),
      ("parameters", .integer(model.parameterCount)),
    ])
  }

  /// The simulated caching allocator's reserve: the peak reserved bytes, what was cached free at
  /// that moment and in which blocks, and the settings and loader model it used.
  static func reserve(_ reserve: AllocatorReserve) -> JSONOutput {
    let settings = reserve.settings
    let blocks: [JSONOutput] = reserve.largestFreeBlocks.map {
      .object([("bytes", .bytes($0.bytes)), ("left_by", .string($0.leftBy.rawValue))])
    }
    let allocator: [(String, JSONOutput)] = [
      ("configuration", .string(settings.configuration)),
      ("expandable_segments", .bool(settings.expandableSegments)),
      ("max_split_size_bytes", settings.maxSplitBytes.map { .integer($0) } ?? .null),
      ("garbage_collection_threshold", settings.garbageCollectionThreshold.map { .number($0) } ?? .null),
      ("roundup_power2_divisions", settings.roundupPower2Divisions.map { .integer($0) } ?? .null),
    ]
    return .object([
      ("peak_reserved_bytes", .bytes(reserve.peakReserved)),
      ("cached_free_bytes", .bytes(reserve.cachedFree)),
      ("largest_free_blocks", .array(blocks)),
      ("allocator_settings", .object(allocator)),
      ("loader", .string(reserve.loader.label)),
      ("other_loader_peak_reserved_bytes", .bytes(reserve.otherLoaderPeakReserved)),
      ("completing_peak_reserved_bytes", reserve.completingPeakReserved.map { .bytes($0) } ?? .null),
    ])
  }

  static func incompatibility(_ incompatibility: HardwareIncompatibility) -> JSONOutput {
    .object([("kind", .string(incompatibility.kind)), ("message", .string(incompatibility.description))])
  }

  /// A verdict's margin (``VerdictMargin/of(_:)``) and the statistic it is.
  static func margin(_ margin: VerdictMargin) -> JSONOutput {
    .object([("relative", .number(margin.relative)), ("statistic", .string(margin.statistic))])
  }

  /// An evaluation as every planning command writes it.
  static func evaluation(_ evaluation: Evaluation) -> JSONOutput {
    .object([
      ("gpu", .string(evaluation.gpu.name)), ("capacity_bytes", .integer(evaluation.gpu.capacity.bytes)),
      ("bytes", .bytes(evaluation.bytes)), ("verdict", .string(evaluation.verdict.rawValue)),
      ("headroom_bytes", evaluation.bytes.isOverflow ? .null : .integer(evaluation.headroom)),
      (
        "completing_process_peak_bytes",
        evaluation.headroom < 0 ? evaluation.estimate?.completingProcessPeak.map { .bytes($0) } ?? .null : .null
      ),
    ])
  }

  /// Every setting of `setup`, keyed by the setting's JSON name.
  static func setup(_ setup: TrainingSetup) -> JSONOutput {
    .object(Setting.allCases.map { setting in (setting.rawValue, value(setting.current(in: setup))) })
  }

  static func value(_ change: SettingChange) -> JSONOutput {
    switch change {
    case .blockSize(let v), .rank(let v), .sequenceLength(let v), .batchSize(let v), .gpuCount(let v),
      .nodeCount(let v),
      .maxLiveParameters(let v):
      return .integer(v)
    case .reduceBucketSize(let v), .prefetchBucketSize(let v), .persistenceThreshold(let v):
      return v.map { .integer($0) } ?? .string("auto")
    case .alpha(let x), .loraDropout(let x): return .number(x)
    case .doubleQuantization(let b), .dora(let b), .gradientCheckpointing(let b), .autocast(let b),
      .fullFineTune(let b):
      return .bool(b)
    case .quantization, .targets, .modulesToSave, .optimizer, .computeDtype, .recipe, .attention, .loss,
      .fullFineTunePrecision, .engine,
      .offload, .loop, .platform, .allocator:
      return .string(change.valueText)
    }
  }

  /// A fewest-GPUs answer as `solve` and `compare` write it (`fewest_gpus`).
  static func gpuPlan(_ plan: Planner.GPUPlan) -> JSONOutput {
    .object([
      ("count", .integer(plan.count)), ("engine", plan.engine.map { .string($0.engine.rawValue) } ?? .null),
      ("offload", .string(plan.choice.offload.description)), ("bytes_per_gpu", .bytes(plan.evaluation.bytes)),
      ("host_bytes_per_process", plan.evaluation.estimate.map { .bytes(HostMemory($0).peak) } ?? .null),
      ("one_fewer_bytes_per_gpu", plan.oneFewer.map { .bytes($0.bytes) } ?? .null),
    ])
  }

  static func component(_ component: MemoryComponent) -> JSONOutput {
    .object([
      ("id", .string(component.kind.rawValue)),
      ("device", .string(component.device.rawValue)),
      ("lifetime", .string(component.lifetime.rawValue)),
      ("bytes", .bytes(component.bytes)),
      ("formula", .string(component.formula)),
      ("source", .string(component.source)),
    ])
  }

  static func gpu(_ gpu: GPU) -> JSONOutput {
    .object([
      ("name", .string(gpu.name)),
      ("display_name", .string(gpu.displayName)),
      ("capacity_bytes", .integer(gpu.capacity.bytes)),
      ("vendor", .string(gpu.vendor.rawValue)),
      ("architecture", gpu.architecture.map { .string($0.rawValue) } ?? .null),
      ("compute_capability", gpu.computeCapability.map { .string($0.description) } ?? .null),
      ("supports_bf16", .bool(gpu.supportsBFloat16)),
      ("unified_memory", .bool(gpu.hasUnifiedMemory)),
    ])
  }
}

/// Turns a model and a training setup into a ``MemoryEstimate``. Pure: no I/O, no printing.
///
///     let model = try PresetCatalog.bundled.model(named: "qwen3-14b")
///     var setup = TrainingSetup()
///     setup.lora.rank = 32
///     let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
///     estimate.residentBytes   // exact resident GPU bytes
public enum MemoryEstimator {
  public static func estimate(
    model: ModelArchitecture, setup: TrainingSetup, gpu: GPU?
  ) throws(SetupError) -> MemoryEstimate {
    let walk = try Walk(model: model, setup: setup, gpu: gpu)
    var components = walk.components
    let transient = walk.transient
    let resident = ByteCount.sum(
      components.filter { $0.device == .gpu && $0.lifetime == .resident }.map(\.bytes))
    // The engine's gather buffers are in use whenever a layer computes: count them with the base.
    // The allocator may use what the GPU has beyond the CUDA context before it must release its cache.
    let reserve = try walk.reserve(capacity: gpu.map { $0.capacity - walk.transient.context })
    let peak = transient.peak(resident: resident + (walk.gather?.bytes ?? .zero), reserved: reserve?.peakReserved)
    if peak.process.isOverflow { throw .overflow(component: "peak") }
    components.insert(
      TransientComponents.allocatorReserve(at: peak, reserve: reserve),
      at: components.firstIndex { $0.kind == .runtime }.map { $0 + 1 } ?? components.endIndex)
    return MemoryEstimate(
      model: model, setup: setup, gpu: gpu, components: components,
      trainableParameters: walk.trainable.reduce(0) { $0 + $1.elements }, peak: peak, step: walk.step.profile,
      reserve: reserve,
      assumptions: assumptions(setup) + [walk.engine.assumption].compactMap { $0 } + transient.assumptions,
      warnings: model.warnings + VersionNotes.failures(model, setup),
      incompatibilities: gpu?.incompatibilities(with: setup) ?? [],
      notes: VersionNotes.notes(model, setup))
  }

  /// The step's peak allocated bytes (``PeakMemory/allocated``) alone: the same walk as
  /// ``estimate(model:setup:gpu:)`` without the allocator simulation, whose replay of the run's
  /// schedule is most of an estimate's time (docs/performance.md measures both).
  public static func peakAllocated(model: ModelArchitecture, setup: TrainingSetup, gpu: GPU?) throws(SetupError)
    -> ByteCount
  {
    try Walk(model: model, setup: setup, gpu: gpu).peakCachingNothing.allocated
  }

  /// The run as an ordered stream of allocations and frees (loading, a warm-up step, the
  /// measured step), from the same walk as ``estimate(model:setup:gpu:)``.
  package static func schedule(
    model: ModelArchitecture, setup: TrainingSetup, gpu: GPU?, loader: CheckpointLoader
  ) throws(SetupError) -> AllocationSchedule {
    try Walk(model: model, setup: setup, gpu: gpu).schedule(loader: loader)
  }

  /// Everything the estimate is made of before its peak: the components (the transient ones
  /// included, the reserve not yet), the step and the engine.
  struct Walk {
    let setup: TrainingSetup
    let trainable: [TrainableTensorGroup]
    let components: [MemoryComponent]
    let gather: MemoryComponent?
    let engine: EngineSharding
    let step: StepPeak
    let context: StepContext
    let transient: TransientComponents

    init(model declared: ModelArchitecture, setup: TrainingSetup, gpu: GPU?) throws(SetupError) {
      try setup.validate()
      let model = declared.built(by: setup.recipe)
      self.setup = setup
      let adapted = try loraTargets(model, setup)
      let saved = try SavedModuleCopies(model, setup)
      let trainable = saved.ordered(around: trainableTensors(model, setup, adapted: adapted))
      self.trainable = trainable
      var components = [
        BaseWeights.quantized(model, setup),
        BaseWeights.unquantized(model, setup),
        TrainableState.adapters(trainable, setup, saved: saved),
        TrainableState.gradients(trainable),
      ]
      // DeepSpeed's optimizer steps the fp32 master partition, so its moments are fp32.
      let stepped = setup.engine.isDeepSpeed ? trainable.map { $0.retyped(.float32) } : trainable
      components += TrainableState.optimizerState(stepped, setup.optimizer)
      engine = EngineSharding(setup: setup, model: model, trainable: trainable)
      (components, gather) = engine.apply(components)
      context = StepContext(model: model, setup: setup)
      step = stepPeak(model, setup, trainable, adapted: adapted)
      transient = TransientComponents(step: step, setup: setup, gpu: gpu)
      components += transient.components
      if let gather { components.append(gather) }
      if let overflowed = components.first(where: { $0.bytes.isOverflow }) {
        throw .overflow(component: overflowed.kind.label.lowercased())
      }
      self.components = components
    }

    /// The peak were the caching allocator to hold nothing beyond its tensors (reserved equal
    /// to allocated; the process peak is allocated plus the CUDA context): the estimate's peak
    /// without the allocator simulation. Its process figure is a floor of the estimate's (the
    /// reserve only adds), which is what lets a planner rule a setup out without simulating it.
    var peakCachingNothing: PeakMemory {
      let resident = ByteCount.sum(components.filter { $0.device == .gpu && $0.lifetime == .resident }.map(\.bytes))
      return transient.peak(resident: resident + (gather?.bytes ?? .zero), reserved: nil)
    }

    /// Whether the estimate's simulated peak reserved would exceed `limit`, simulating only
    /// until it does (false off CUDA, where nothing is reserved beyond the tensors; true for a
    /// run past the simulation's arithmetic, which the estimate refuses as an overflow).
    func reserveExceeds(_ limit: ByteCount) -> Bool {
      guard setup.platform == .cuda else { return false }
      let run = schedule(loader: setup.recipe.loader)
      guard run.fitsTheAllocatorArithmetic else { return true }
      return AllocatorReserve.peakReserved(of: run, settings: setup.allocator, exceeds: limit.bytes)
    }

    /// Whether the run completes within `capacity` bytes reserved when the allocator releases its
    /// cached segments on out-of-memory retries (``AllocatorReserve/completingPeakReserved``,
    /// without the rest of the estimate). False off CUDA, where nothing is cached to release.
    func completesReleasingCache(within capacity: ByteCount) -> Bool {
      guard setup.platform == .cuda, capacity > .zero else { return false }
      let run = schedule(loader: setup.recipe.loader)
      guard run.fitsTheAllocatorArithmetic else { return false }
      return AllocatorReserve.completes(run, settings: setup.allocator, within: capacity.bytes)
    }

    /// The allocator simulated over the run's schedule with the recipe's loader (nil off CUDA:
    /// the CPU allocator keeps no cache).
    func reserve(capacity: ByteCount?) throws(SetupError) -> AllocatorReserve? {
      guard setup.platform == .cuda else { return nil }
      let loader = setup.recipe.loader
      let run = self.schedule(loader: loader)
      // The simulation adds sizes (segments, addresses) in Int64: past what it can hold exactly,
      // the run is beyond any GPU anyway and is refused like every other overflow.
      guard run.fitsTheAllocatorArithmetic else { throw .overflow(component: "peak") }
      return AllocatorReserve.simulate(
        run, settings: setup.allocator, loader: loader, capacity: capacity,
        otherLoader: { [self] in schedule(loader: loader.alternative) })
    }

    func schedule(loader: CheckpointLoader) -> AllocationSchedule {
      RunSchedule.build(
        context, step: step, trainable: trainable, components: components, gather: gather,
        workspaces: transient.workspaces, loader: loader, sharded: engine.isActive)
    }
  }

  /// The step's moments above the resident bytes, on the setup's platform (validation compares
  /// `.cpu` against PyTorch's CPU allocator).
  package static func stepProfile(model declared: ModelArchitecture, setup: TrainingSetup) throws(SetupError)
    -> StepProfile
  {
    try setup.validate()
    let model = declared.built(by: setup.recipe)
    let adapted = try loraTargets(model, setup)
    let trainable = try SavedModuleCopies(model, setup).ordered(
      around: trainableTensors(model, setup, adapted: adapted))
    return stepPeak(model, setup, trainable, adapted: adapted).profile
  }

  static func stepPeak(
    _ model: ModelArchitecture, _ setup: TrainingSetup, _ trainable: [TrainableTensorGroup], adapted: LoRATargetSet
  ) -> StepPeak {
    let context = StepContext(model: model, setup: setup)
    // Sharded, each GPU keeps its share of the gradients (the full layer is in the gather buffer).
    let gradients = EngineSharding(setup: setup, model: model, trainable: trainable)
      .gradientsOnGPU(ByteCount.sum(trainable.map(\.bytes)))
    return StepPeak(context, adapted: adapted, trainable: trainable, gradients: gradients)
  }

  /// The modules and parameters LoRA adapts (none for full fine-tuning).
  static func loraTargets(_ model: ModelArchitecture, _ setup: TrainingSetup) throws(SetupError) -> LoRATargetSet {
    guard !setup.isFullFineTune else { return LoRATargetSet(modules: [], parameters: []) }
    return try model.loraTargets(setup.lora.targets, recipe: setup.recipe)
  }

  /// The tensors the optimizer updates: LoRA adapters, or every parameter for full fine-tuning
  /// (``SavedModuleCopies`` adds the modules_to_save copies).
  static func trainableTensors(
    _ model: ModelArchitecture, _ setup: TrainingSetup, adapted: LoRATargetSet
  ) -> [TrainableTensorGroup] {
    if setup.isFullFineTune {
      return model.allParameterTensors(dtype: setup.fullFineTuneParameterDtype)
    }
    let dtype = setup.adapterDtype.resolved(setup.computeDtype)
    return model.loraTensors(on: adapted.modules, configuration: setup.lora, dtype: dtype)
      + model.loraTensors(on: adapted.parameters, rank: setup.lora.rank, dtype: dtype)
  }

  private static func assumptions(_ setup: TrainingSetup) -> [String] {
    var lines = ["recipe \(setup.recipe.name): \(setup.recipe.summary)"]
    if setup.isFullFineTune {
      switch setup.fullFineTunePrecision {
      case .pure:
        lines.append(
          "full fine-tuning, pure \(setup.computeDtype.rawValue) (the default precision): weights, "
            + "gradients and torch AdamW moments in \(setup.computeDtype.rawValue) (zeros_like(param)), 8 B/param with AdamW"
        )
      case .mixed:
        lines.append(
          "full fine-tuning, mixed precision: fp32 master weights, gradients and AdamW "
            + "moments, 16 B/param, the forward under autocast in \(setup.computeDtype.rawValue)")
      }
    }
    lines.append("gradient checkpointing " + (setup.usesGradientCheckpointing ? "on" : "off"))
    if setup.platform == .cuda {
      let settings = setup.allocator
      lines.append(
        "caching allocator: PyTorch 2.10's rules simulated over loading (\(setup.recipe.loader.label)), a warm-up "
          + "step and the step; settings " + (settings.isDefault ? "PyTorch's defaults" : settings.configuration)
          + (setup.allocatorConfiguration == nil && !settings.isDefault ? " (set by the recipe's framework)" : ""))
    }
    if let loss = setup.lossImplementation { lines.append("loss: \(loss.label) chunked cross-entropy") }
    if setup.lossImplementation == .unsloth {
      // unsloth_zoo fused_losses/cross_entropy_loss.py _get_chunk_multiplier (cached at the first call).
      lines.append(
        "Unsloth sizes its loss chunks at run time from half the GPU memory free at its first call, "
          + "capped at 4 GiB (UNSLOTH_CE_LOSS_TARGET_GB overrides): counted at the cap, an upper bound when less "
          + "than 8 GiB is free then")
    }
    return lines
  }
}

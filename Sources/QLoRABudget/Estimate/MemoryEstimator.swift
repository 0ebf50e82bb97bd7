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
    try estimate(try Walk(model: model, setup: setup, gpu: gpu), model: model, gpu: gpu, schedule: nil)
  }

  /// `setup` estimated on each of `gpus`, in order, each what ``estimate(model:setup:gpu:)``
  /// gives: the run's schedule depends on the GPU only through ``Walk/ScheduleKey`` (the cuBLAS
  /// workspaces; a loss chunked by free memory), so GPUs that agree on it share one build of the
  /// schedule, and with it one replay (``ReplayMemo`` matches the same events at once).
  public static func estimates(
    model: ModelArchitecture, setup: TrainingSetup, gpus: [GPU]
  ) -> [Result<MemoryEstimate, SetupError>] {
    var built: [Walk.ScheduleKey: AllocationSchedule] = [:]
    return gpus.map { gpu in
      Result { () throws(SetupError) -> MemoryEstimate in
        let walk = try Walk(model: model, setup: setup, gpu: gpu)
        let key = walk.scheduleKey
        let schedule = built[key] ?? walk.schedule(loader: setup.recipe.loader)
        built[key] = schedule
        return try estimate(walk, model: model, gpu: gpu, schedule: schedule)
      }
    }
  }

  /// The estimate of `walk`, its run's schedule (with the recipe's loader) built unless given.
  private static func estimate(
    _ walk: Walk, model: ModelArchitecture, gpu: GPU?, schedule: AllocationSchedule?
  ) throws(SetupError) -> MemoryEstimate {
    let setup = walk.setup
    var components = walk.components
    let transient = walk.transient
    let resident = ByteCount.sum(
      components.filter(\.isResidentOnGPU).map(\.bytes))
    // The engine's gather buffers are in use whenever a layer computes: count them with the base.
    // The allocator may use what the GPU has beyond the CUDA context before it must release its cache.
    let reserve = try walk.reserve(capacity: gpu.map { $0.capacity - walk.transient.context }, schedule: schedule)
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
      warnings: model.warnings + VersionNotes.failures(model, setup) + ContextLengthWarning.warnings(model, setup),
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

    init(model: ModelArchitecture, setup: TrainingSetup, gpu: GPU?) throws(SetupError) {
      try self.init(model: model, setup: setup, gpu: gpu, lossChunkBudget: LogitsAndLoss.unslothChunkCap)
      if let budget = lossChunkBudgetFromFreeMemory(gpu), budget < LogitsAndLoss.unslothChunkCap {
        self = try Walk(model: model, setup: setup, gpu: gpu, lossChunkBudget: budget)
      }
    }

    /// The walk with the loss's chunks sized to `lossChunkBudget` rather than from the GPU's free
    /// memory (zero: one token a chunk, the finest).
    init(
      model declared: ModelArchitecture, setup: TrainingSetup, gpu: GPU?, lossChunkBudget: ByteCount
    ) throws(SetupError) {
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
      context = StepContext(model: model, setup: setup, lossChunkBudget: lossChunkBudget)
      step = stepPeak(model, setup, trainable, adapted: adapted, lossChunkBudget: lossChunkBudget)
      transient = TransientComponents(step: step, setup: setup, gpu: gpu)
      components += transient.components
      if let gather { components.append(gather) }
      if let overflowed = components.first(where: { $0.bytes.isOverflow }) {
        throw .overflow(component: overflowed.kind.label.lowercased())
      }
      self.components = components
    }

    /// Unsloth's fused loss sizes its chunks from the device's free memory when it runs
    /// (``StepContext/lossChunkBudget``): half of the capacity less the CUDA context and what the
    /// allocator has reserved just before the run's first loss chunk (the warm-up step's; loading
    /// and that step's forward do not depend on the chunk), at most the 4 GiB cap. The measured
    /// step's loss is counted with the same chunks: it finds no more memory free (the reserve
    /// never falls), so its own chunks are no larger. Nil when no loss chunks by free memory or
    /// no GPU is known (the cap then holds).
    private func lossChunkBudgetFromFreeMemory(_ gpu: GPU?) -> ByteCount? {
      guard Self.chunksLossByFreeMemory(setup), let gpu else { return nil }
      let run = schedule(loader: setup.recipe.loader)
      guard run.fitsTheAllocatorArithmetic, let index = run.firstLossChunk else { return nil }
      let reserved = ByteCount(AllocatorReserve.reserved(of: run, settings: setup.allocator, before: index))
      let free = gpu.capacity - transient.context - reserved
      return min(ByteCount(free.bytes / 2), LogitsAndLoss.unslothChunkCap)
    }

    /// Whether `setup`'s loss sizes its chunks from the GPU's free memory (Unsloth's fused loss on
    /// CUDA): its bytes then depend on the rest of the run, and fall where a chunk count steps up.
    static func chunksLossByFreeMemory(_ setup: TrainingSetup) -> Bool {
      guard case .unsloth = setup.lossImplementation else { return false }
      return setup.platform == .cuda
    }

    /// The peak were the caching allocator to hold nothing beyond its tensors (reserved equal
    /// to allocated; the process peak is allocated plus the CUDA context): the estimate's peak
    /// without the allocator simulation. Its process figure is a floor of the estimate's (the
    /// reserve only adds), which is what lets a planner rule a setup out without simulating it.
    var peakCachingNothing: PeakMemory {
      let resident = ByteCount.sum(components.filter(\.isResidentOnGPU).map(\.bytes))
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
    func reserve(capacity: ByteCount?, schedule built: AllocationSchedule? = nil) throws(SetupError)
      -> AllocatorReserve?
    {
      guard setup.platform == .cuda else { return nil }
      let loader = setup.recipe.loader
      let run = built ?? self.schedule(loader: loader)
      // The simulation adds sizes (segments, addresses) in Int64: past what it can hold exactly,
      // the run is beyond any GPU anyway and is refused like every other overflow.
      guard run.fitsTheAllocatorArithmetic else { throw .overflow(component: "peak") }
      return AllocatorReserve.simulate(
        run, settings: setup.allocator, loader: loader, capacity: capacity,
        otherLoader: { [self] in self.schedule(loader: loader.alternative) })
    }

    /// What the run's schedule depends on beyond the model and the setup: the cuBLAS workspaces,
    /// the loss's chunk budget (Unsloth's, from the GPU's free memory) and the resident bytes,
    /// each of which can vary with the GPU.
    struct ScheduleKey: Hashable {
      let workspaces: ByteCount
      let lossChunkBudget: ByteCount
      let resident: [ByteCount]
    }

    var scheduleKey: ScheduleKey {
      ScheduleKey(
        workspaces: transient.workspaces, lossChunkBudget: context.lossChunkBudget,
        resident: components.filter(\.isResidentOnGPU).map(\.bytes)
          + [gather?.bytes ?? .zero])
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
    _ model: ModelArchitecture, _ setup: TrainingSetup, _ trainable: [TrainableTensorGroup], adapted: LoRATargetSet,
    lossChunkBudget: ByteCount = LogitsAndLoss.unslothChunkCap
  ) -> StepPeak {
    let context = StepContext(model: model, setup: setup, lossChunkBudget: lossChunkBudget)
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
      // unsloth_zoo fused_losses/cross_entropy_loss.py get_chunk_size / _auto_target_gb_from.
      lines.append(
        "Unsloth sizes its loss chunks at run time from half the GPU memory free when the loss runs, "
          + "capped at 4 GiB (UNSLOTH_CE_LOSS_TARGET_GB overrides): counted from what the simulated run leaves "
          + "free at its first call on the GPU given (the cap without one); the measured step finds no more free, "
          + "so its chunks are no larger")
    }
    return lines
  }
}

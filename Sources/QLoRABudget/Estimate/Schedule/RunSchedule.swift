/// The whole run on one GPU as its allocator sees it: loading, a warm-up step (the optimizer
/// state is created in its optimizer step, the cuBLAS workspaces at its first matmuls), then
/// the measured step, whose phases are marked.
enum RunSchedule {
  static func build(
    _ context: StepContext, step: StepPeak, trainable: [TrainableTensorGroup], components: [MemoryComponent],
    gather: MemoryComponent?, workspaces: ByteCount, loader: CheckpointLoader, sharded: Bool
  ) -> AllocationSchedule {
    var schedule = AllocationSchedule(layers: context.model.layerCount, trainable: trainable)
    schedule.enter(.loading)
    let setup = context.setup
    let resident = components.filter(\.isResidentOnGPU)
    let fsdp = sharded && (setup.engine == .fsdp || setup.engine == .fsdpHybrid)
    // FSDP all-gathers into its unsharded flat parameters, and reduce-scatters gradients, on
    // streams of its own (`_unshard_stream`, `_post_backward_stream`: PyTorch
    // `fsdp/_runtime_utils.py` `_unshard` allocates under `state._unshard_stream`), and the
    // caching allocator never hands a block cached for one stream to another: these buffers
    // neither reuse what loading leaves cached nor leave blocks the step's tensors can carve.
    // Allocated first, the gather takes segments of its own, as it does in that stream's pool.
    if fsdp, let gather { schedule.allocate(gather.bytes, .other) }
    let walk = StepSchedule(step: step, context: context, trainable: trainable)
    let shardedLoading = ShardedLoadingSchedule(
      model: context.model, setup: setup, trainable: trainable,
      shardCount: EngineSharding(setup: setup, model: context.model, trainable: trainable).shardCount,
      offloadsParameters: setup.offload.contains(.parameters), loader: loader)
    let torchtune = TorchtuneLoadingSchedule(model: context.model, setup: setup, trainable: trainable)
    if !(fsdp && shardedLoading.emit(into: &schedule, resident: resident))
      && !(loader == .torchtune01 && !sharded && torchtune.emit(into: &schedule, resident: resident))
    {
      LoadingSchedule.emit(
        into: &schedule, model: context.model, setup: setup, resident: resident, adapters: walk.tensors, loader: loader,
        detailed: !sharded)
    }
    let loaded: [MemoryComponent.Kind] = [.quantizedWeights, .unquantizedWeights, .adapters, .optimizerState]
    for component in resident where !loaded.contains(component.kind) { schedule.allocate(component.bytes, .other) }
    if !fsdp, let gather { schedule.allocate(gather.bytes, .other) }
    let state = ByteCount.sum(resident.filter { $0.kind == .optimizerState }.map(\.bytes))
    schedule.enter(.warmUp)
    let half = ByteCount(workspaces.bytes / 2)
    let gradients = walk.emit(
      into: &schedule, previousGradients: [], optimizerState: optimizerStateTensors(state, walk.tensors),
      workspaces: [half, workspaces - half], marksPhases: false)
    _ = walk.emit(into: &schedule, previousGradients: gradients, optimizerState: [], workspaces: [], marksPhases: true)
    return schedule
  }

  /// AdamW's two moments per tensor (`exp_avg`, `exp_avg_sq`, created together parameter by
  /// parameter) when they are the state's bytes; else the state as one block. `tensors` are the
  /// trainable tensors layer-major.
  private static func optimizerStateTensors(_ state: ByteCount, _ tensors: [ByteCount]) -> [ByteCount] {
    let doubled = ByteCount.sum(tensors) + ByteCount.sum(tensors)
    guard doubled == state else { return [state] }
    var moments: [ByteCount] = []
    moments.reserveCapacity(2 * tensors.count)
    for tensor in tensors {
      moments.append(tensor)
      moments.append(tensor)
    }
    return moments
  }
}

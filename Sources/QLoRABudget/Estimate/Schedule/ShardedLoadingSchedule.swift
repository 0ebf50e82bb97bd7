/// Loading a 4-bit model under FSDP, as one rank's GPU sees it (rank 0, the rank that logs).
/// The model is never whole on a GPU; what the allocator keeps cached comes from two passes:
///
/// 1. Quantization, checkpoint tensor by tensor in the loader's order: each 4-bit weight's
///    16-bit staging copy on the GPU, quantized there (statistics, then the packed weight),
///    the copy freed, and the packed weight moved off the GPU (rank 0 to CPU, the others to
///    meta); its statistics stay (``EngineSharding``). Unquantized tensors go straight to CPU
///    or meta. Sources: AnswerDotAI/fsdp_qlora train.py `load_and_quantize` (`to_cpu=rank==0`,
///    `to_meta=rank!=0`: "quantizes Params4bit to initialize quant_state on all ranks, then
///    replaces Params4bit's data with a meta tensor"); transformers' FSDP path does the same on
///    rank 0 (`_load_state_dict_into_meta_model`: `create_quantized_param`, then
///    `value.data.to("cpu")`, "meta" on the other ranks).
/// 2. FSDP's wrap, unit by unit as the auto-wrap policy meets them (the modules' children
///    first: each layer's LoRA linears, each its own unit under fsdp_qlora's lambda policy, then
///    the decoder layer; the root, embeddings and lm_head, last). Per unit (PyTorch
///    `fsdp/_init_utils.py` `_init_param_handle_from_module`): its parameters moved to the GPU
///    (`_move_module_to_device`; `param_init_fn` `to_empty` on the other ranks); with
///    `sync_module_states` broadcast from rank 0 in buckets (`_sync_params_and_buffers`,
///    `PARAM_BROADCAST_BUCKET_SIZE` 250 MiB; c10d `broadcast_coalesced` flattens each bucket of
///    more than one tensor into one buffer, at most two buckets in flight); flattened into one
///    flat parameter (`flatten_tensors_into_flat_param`: `torch.cat`), which frees the
///    originals; the rank's shard cloned out of it (`FlatParamHandle._get_shard`) and the
///    whole flat parameter freed; with `CPUOffload(offload_params=True)` the shard moved to CPU.
///
/// What the items do not name (norms, biases, padding) is one summarised allocation per
/// component at the end, so the totals are the components' bytes exactly.
struct ShardedLoadingSchedule {
  /// c10d's broadcast bucket (`torch/distributed/fsdp/_init_utils.py` PARAM_BROADCAST_BUCKET_SIZE).
  static let broadcastBucketBytes: Int64 = 250 << 20

  let model: ModelArchitecture
  let setup: TrainingSetup
  let trainable: [TrainableTensorGroup]
  /// GPUs one copy of the parameters is sharded over.
  let shardCount: Int64
  let offloadsParameters: Bool
  let loader: CheckpointLoader

  /// Emits loading into `schedule` and returns true, or returns false (emitting nothing) when
  /// the setup is not one this pass models: bitsandbytes 4-bit weights, layers that all hold
  /// the same linears, no checkpoint-kept 16-bit linears, an unquantized lm_head.
  func emit(into schedule: inout AllocationSchedule, resident: [MemoryComponent]) -> Bool {
    func bytes(_ kind: MemoryComponent.Kind) -> ByteCount {
      ByteCount.sum(resident.filter { $0.kind == kind }.map(\.bytes))
    }
    let layers = model.layerCount
    let linears = model.inventory.linears(in: setup.recipe.linearRoles)
    guard setup.effectiveQuantization.isFourBit, setup.recipe.fourBitLayout == .bitsandbytes, layers > 0,
      BaseWeights.outputHead(model, setup) == nil,
      linears.allSatisfy({ $0.instanceCount % layers == 0 && model.skippedLayers(of: $0).isEmpty })
    else { return false }
    let width = setup.computeDtype.tensorDtype.byteWidth
    // One layer's 4-bit weights in the checkpoint's key order, and in module order for the wrap.
    let keyOrder = linears.sorted { $0.path < $1.path }.flatMap {
      Array(repeating: $0, count: Int($0.instanceCount / layers))
    }
    let moduleOrder = linears.flatMap { Array(repeating: $0, count: Int($0.instanceCount / layers)) }
    var staging: [ByteCount] = []
    var statistics: [ByteCount] = []
    var packed: [ByteCount] = []
    func quantized(_ elements: Int64) {
      staging.append(.elements(elements, bytesEach: width))
      let packedBytes = ByteCount.elements(elements, bitsEach: 4)
      statistics.append(BaseWeights.fourBitBytes(elements, setup) - packedBytes)
      packed.append(packedBytes)
    }
    // transformers' natural key order: lm_head and model.embed_tokens (unquantized: not on the
    // GPU), then the layers.
    for _ in 0..<layers { for module in keyOrder { quantized(module.weightElements) } }
    // Pass 1: quantization.
    var staged: [Int32] = Array(repeating: -1, count: staging.count)
    for step in loader.steps(stagingBytes: staging.map(\.bytes)) {
      switch step {
      case .stage(let index):
        staged[index] = schedule.allocate(staging[index], .stagingCopy)
      case .take(let index):
        schedule.allocate(statistics[index], .quantizedWeight)
        let moved = schedule.allocate(packed[index], .stagingCopy)
        schedule.free(staged[index])
        schedule.free(moved)
      }
    }
    // Pass 2: the wrap. Each layer's LoRA units, then the layer; the root last.
    let adapters = TensorOrder.layerMajor(trainable)
    let adaptersPerLayer = adapters.count % Int(layers) == 0 ? adapters.count / Int(layers) : 0
    var shards = (quantized: ByteCount.zero, unquantized: ByteCount.zero, adapters: ByteCount.zero)
    if adaptersPerLayer == 0 {
      shards.adapters = wrap(adapters, into: &schedule, eachItsOwnUnit: true, shard: .adapter)
    }
    let layerWeights = moduleOrder.map { ByteCount.elements($0.weightElements, bitsEach: 4) }
    for layer in 0..<Int(layers) {
      if adaptersPerLayer > 0 {
        let own = adapters[(layer * adaptersPerLayer)..<((layer + 1) * adaptersPerLayer)]
        shards.adapters = shards.adapters + wrap(Array(own), into: &schedule, eachItsOwnUnit: true, shard: .adapter)
      }
      shards.quantized =
        shards.quantized + wrap(layerWeights, into: &schedule, eachItsOwnUnit: false, shard: .quantizedWeight)
    }
    let embeddingWidth = setup.unquantizedDtypes.embeddings.resolved(setup.computeDtype).byteWidth
    let inventory = model.inventory
    let finalNorm = ByteCount.elements(model.hiddenSize, bytesEach: embeddingWidth)
    let root: [ByteCount] = [
      .elements(inventory.tokenEmbeddingElements + inventory.positionEmbeddingElements, bytesEach: embeddingWidth),
      finalNorm, .elements(inventory.lmHeadElements, bytesEach: embeddingWidth),
    ]
    shards.unquantized = wrap(root, into: &schedule, eachItsOwnUnit: false, shard: .unquantizedWeight)
    // Norms, biases, padding and the like: small, summarised.
    let kept = ByteCount.sum(statistics)
    schedule.allocate(bytes(.quantizedWeights) - kept - shards.quantized, .quantizedWeight)
    schedule.allocate(bytes(.unquantizedWeights) - shards.unquantized, .unquantizedWeight)
    schedule.allocate(bytes(.adapters) - shards.adapters, .adapter)
    return true
  }

  /// FSDP's wrap of one unit of `tensors` (or of each tensor as its own unit); returns the
  /// bytes of the shards left on the GPU (none under parameter offload).
  private func wrap(
    _ tensors: [ByteCount], into schedule: inout AllocationSchedule, eachItsOwnUnit: Bool, shard kind: ScheduledTensor
  ) -> ByteCount {
    if eachItsOwnUnit {
      return ByteCount.sum(tensors.map { wrap([$0], into: &schedule, eachItsOwnUnit: false, shard: kind) })
    }
    let nonEmpty = tensors.filter { $0 > .zero }
    guard !nonEmpty.isEmpty else { return .zero }
    let originals = nonEmpty.map { schedule.allocate($0, kind) }
    // c10d compute_bucket_assignment_by_size: a bucket closes once it reaches the limit.
    var inFlight: [Int32] = []
    var bucket: [ByteCount] = []
    func flush() {
      guard !bucket.isEmpty else { return }
      if inFlight.count == 2 { schedule.free(inFlight.removeFirst()) }
      inFlight.append(bucket.count > 1 ? schedule.allocate(ByteCount.sum(bucket), .stagingCopy) : -1)
      bucket = []
    }
    for tensor in nonEmpty {
      bucket.append(tensor)
      if ByteCount.sum(bucket).bytes >= Self.broadcastBucketBytes { flush() }
    }
    flush()
    schedule.free(inFlight)
    let whole = ByteCount.sum(nonEmpty)
    let flat = schedule.allocate(whole, .stagingCopy)
    schedule.free(originals)
    let shardBytes = ByteCount(whole.bytes / shardCount)
    let shard = schedule.allocate(shardBytes, kind)
    schedule.free(flat)
    guard offloadsParameters else { return shardBytes }
    schedule.free(shard)
    return .zero
  }
}

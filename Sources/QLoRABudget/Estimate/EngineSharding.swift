/// Per-GPU memory when a run is spread over several GPUs by FSDP or DeepSpeed ZeRO, and what
/// the engine moves to host memory.
///
/// Each GPU runs its own micro-batch, so activations, logits, dequantization buffers and the
/// CUDA runtime are per GPU as on one. What the engine shards (see ``ParallelEngine``) is
/// divided by the shard group, `S` GPUs (all of them; the GPUs of one node for HYBRID_SHARD):
///
///     sharded component per GPU = ceil(bytes / S)
///
/// What runs beside the shards, per engine:
/// - FSDP: before a layer runs its parameters are all-gathered, and the next layer's gather is
///   prefetched while it computes, so two layers' parameters are in flight, plus one layer's
///   full gradients before their reduce-scatter, and the root unit (embeddings, lm_head), which
///   FSDP does not reshard after forward: `root + 2 x (parameters - root) / L + gradients / L`
///   (PyTorch FSDP FULL_SHARD with forward/backward prefetch, `fsdp/api.py` BackwardPrefetch:
///   "it holds the current set of parameters, next set of parameters, and current set of
///   gradients"). With `CPUOffload(offload_params=True)` the shards of the parameters,
///   gradients and optimizer state live in host memory and the optimizer steps there.
/// - ZeRO-3: the current layer's parameters plus up to `stage3_prefetch_bucket_size` elements
///   fetched ahead, capped by `stage3_max_live_parameters` elements
///   (`partitioned_param_coordinator.py` L380-382: `min(max_n_available - n_available,
///   prefetch_bucket_sz)`), all in the 16-bit storage dtype; tensors of at most
///   `stage3_param_persistence_threshold` elements stay whole on every GPU
///   (`parameter_offload.py` L256-267); gradients are reduced in buckets of
///   `reduce_bucket_size` elements.
/// - ZeRO-2: one gradient reduce bucket (`reduce_bucket_size` elements, at most the gradients).
/// - ZeRO (every stage): the optimizer works on an fp32 master partition of the trainable
///   parameters (4 B x trainable / N, `stage_1_and_2.py` L397-416). With `offload_optimizer`
///   the optimizer state, that master partition and an fp32 gradient partition are in pinned
///   host memory; with `offload_param` (ZeRO-3) the parameter partition is.
///
/// A layer's share spreads the norms and biases over the layers. Host figures are per GPU process.
struct EngineSharding {
  let setup: TrainingSetup
  let model: ModelArchitecture
  /// Trainable tensors in their dtype (to find ZeRO-3's persistent ones).
  let trainable: [TrainableTensorGroup]

  private var engine: ParallelEngine { setup.engine }
  private var gpus: Int64 { setup.gpuCount }

  /// GPUs one copy of the sharded state is spread over.
  var shardCount: Int64 { engine == .fsdpHybrid ? gpus / max(1, setup.nodeCount) : gpus }

  /// Whether the engine changes anything (``TrainingSetup/usesEngine``).
  var isActive: Bool { setup.usesEngine }

  private var offloadsParameters: Bool { setup.offload.contains(.parameters) }
  private var offloadsOptimizer: Bool {
    setup.offload.contains(.optimizer) || (!engine.isDeepSpeed && offloadsParameters)
  }
  /// FSDP's CPU offload moves the gradient shards too.
  private var offloadsGradients: Bool { !engine.isDeepSpeed && offloadsParameters }
  /// ZeRO-Offload copies each reduced gradient partition into its fp32 host buffer for the CPU
  /// optimizer, so the GPU keeps only the reduce bucket (counted with the buffers).
  private var gradientsLeaveTheGPU: Bool {
    offloadsGradients || engine.isDeepSpeed && setup.offload.contains(.optimizer)
  }

  private static let parameterKinds: Set<MemoryComponent.Kind> = [.quantizedWeights, .unquantizedWeights, .adapters]

  /// ZeRO-3's unpartitioned adapters: tensors of at most the persistence threshold.
  private var persistentAdapterBytes: ByteCount {
    guard engine == .zero3, !setup.isFullFineTune else { return .zero }
    let threshold = buckets.persistence
    return ByteCount.sum(trainable.filter { $0.elementsPerTensor <= threshold }.map(\.bytes))
  }

  private var trainableElements: Int64 { trainable.reduce(0) { $0 + $1.elements } }

  /// The DeepSpeed keys with HF's "auto" filled from the hidden size.
  private var buckets: (reduce: Int64, prefetch: Int64, maxLive: Int64, persistence: Int64) {
    setup.deepSpeed.resolved(hiddenSize: model.hiddenSize)
  }

  /// One GPU's share of `bytes` over `count` GPUs, rounded up.
  static func share(_ bytes: ByteCount, _ count: Int64) -> ByteCount {
    guard !bytes.isOverflow else { return .overflow }
    return ByteCount(bytes.bytes / count + (bytes.bytes % count == 0 ? 0 : 1))
  }

  /// The gradient bytes each GPU holds through backward and the optimizer step.
  func gradientsOnGPU(_ total: ByteCount) -> ByteCount {
    guard isActive else { return total }
    if gradientsLeaveTheGPU { return .zero }
    return engine.shardsGradients ? Self.share(total, shardCount) : total
  }

  /// What the optimizer step allocates on each GPU beyond the gradients
  /// (``OptimizerTemporaries``): nothing when the step runs on the host (ZeRO
  /// `offload_optimizer`, FSDP CPUOffload: DeepSpeedCPUAdam, or torch on CPU tensors), else each
  /// GPU's share of the tensors it steps (ZeRO steps its partition of the fp32 master copy).
  func optimizerTemporariesOnGPU(platform: KernelPlatform) -> ByteCount {
    let stepped = engine.isDeepSpeed ? trainable.map { $0.retyped(.float32) } : trainable
    let total = OptimizerTemporaries.bytes(stepped, optimizer: setup.optimizer, platform: platform)
    guard isActive else { return total }
    return offloadsOptimizer ? .zero : Self.share(total, shardCount)
  }

  /// The components as one GPU holds them (with the engine's host-memory part), and the
  /// engine's buffers, computed from the unsharded components.
  func apply(_ components: [MemoryComponent]) -> (components: [MemoryComponent], buffers: MemoryComponent?) {
    guard isActive else { return (components, nil) }
    let buffers = self.buffers(components)
    var placed: [MemoryComponent] = []
    var host: [(String, ByteCount)] = []
    for component in components {
      guard component.device == .gpu else {
        placed.append(component)
        continue
      }
      let bytes = component.bytes
      switch placement(component.kind) {
      case .whole:
        placed.append(component)
      case .sharded(let kept):
        placed.append(sharded(component, bytes: bytes, keeping: kept))
      case .replacedOnHost:
        placed.append(
          MemoryComponent(
            component.kind, lifetime: component.lifetime, bytes: .zero,
            formula: "moved by \(engine.label) offload_optimizer into the fp32 gradient partition in host memory "
              + "(the GPU keeps one reduce bucket, in the buffers row)",
            source: component.source))
      case .host:
        let moved = bytes - persistentPart(component.kind)
        if moved > .zero {
          host.append(
            (
              "\(component.kind.label.lowercased()) \(NumberText.grouped(moved.bytes)) B / \(shardCount)",
              Self.share(moved, shardCount)
            ))
        }
        placed.append(
          MemoryComponent(
            component.kind, lifetime: component.lifetime, bytes: persistentPart(component.kind),
            formula: "offloaded to host memory by \(engine.label)"
              + (persistentPart(component.kind) > .zero
                ? "; on the GPU: \(persistentText(component.kind)), \(NumberText.grouped(persistentPart(component.kind).bytes)) B"
                : ""),
            source: component.source))
      }
    }
    if engine.isDeepSpeed {
      let master = Self.share(.elements(trainableElements, bytesEach: 4), gpus)
      let formula = "fp32 master copy of \(NumberText.grouped(trainableElements)) trainable params x 4 B / \(gpus) GPUs"
      if offloadsOptimizer {
        host.append((formula, master))
        host.append(("fp32 gradient partition " + NumberText.grouped(trainableElements) + " x 4 B / \(gpus)", master))
      } else {
        // One optimizer-state row: the moments and the master copy they update.
        let masterSource =
          "DeepSpeed runtime/zero/stage_1_and_2.py L397-416 single_partition_of_fp32_groups (stage3.py "
          + "fp32_partitioned_groups_flat): the optimizer updates an fp32 copy of the 16-bit parameters"
        if let index = placed.firstIndex(where: { $0.kind == .optimizerState && $0.device == .gpu }) {
          let moments = placed[index]
          placed[index] = MemoryComponent(
            .optimizerState, lifetime: .resident, bytes: moments.bytes + master,
            formula: "moments " + moments.formula + " + " + formula, source: moments.source + "; " + masterSource)
        } else {
          placed.append(
            MemoryComponent(.optimizerState, lifetime: .resident, bytes: master, formula: formula, source: masterSource)
          )
        }
      }
    }
    if !host.isEmpty {
      let host = host
      let total = ByteCount.sum(host.map(\.1))
      placed.append(
        MemoryComponent(
          .offloadedToHost, device: .host, lifetime: .resident, bytes: total,
          formula: host.map { "\($0.0) = \(NumberText.grouped($0.1.bytes))" }.joined(separator: " + ")
            + " (per GPU process)",
          source: engine.isDeepSpeed
            ? "DeepSpeed offload_optimizer / offload_param device cpu (runtime/zero/config.py L153-160); pinned host buffers"
            : "PyTorch FSDP CPUOffload(offload_params=True): parameters and gradients on CPU, optimizer step on CPU"))
    }
    return (placed, buffers)
  }

  private enum Placement {
    case whole
    /// Sharded, except `kept` bytes every GPU keeps whole.
    case sharded(kept: ByteCount)
    case host
    /// Off the GPU; the host holds it in another form already counted (ZeRO-Offload's fp32
    /// gradient partition).
    case replacedOnHost
  }

  private func placement(_ kind: MemoryComponent.Kind) -> Placement {
    switch kind {
    case .quantizedWeights, .unquantizedWeights, .adapters:
      guard engine.shardsParameters else { return .whole }
      if offloadsParameters { return .host }
      return .sharded(kept: persistentPart(kind))
    case .gradients:
      if offloadsGradients { return .host }
      if gradientsLeaveTheGPU { return .replacedOnHost }
      return engine.shardsGradients ? .sharded(kept: .zero) : .whole
    case .optimizerState:
      return offloadsOptimizer ? .host : .sharded(kept: .zero)
    default:
      return .whole
    }
  }

  /// What every GPU keeps whole of a sharded (or offloaded) component: ZeRO-3's persistent
  /// adapters, and bitsandbytes' 4-bit quantization statistics.
  private func persistentPart(_ kind: MemoryComponent.Kind) -> ByteCount {
    switch kind {
    case .adapters: return persistentAdapterBytes
    case .quantizedWeights: return quantizationStatisticsBytes
    default: return .zero
    }
  }

  /// Why `persistentPart(kind)` stays on every GPU, in words.
  private func persistentText(_ kind: MemoryComponent.Kind) -> String {
    kind == .quantizedWeights
      ? "4-bit quantization statistics (QuantState: absmax, nested absmax and codes) kept whole on every GPU"
      : "tensors under stage3_param_persistence_threshold kept whole"
  }

  /// bitsandbytes' 4-bit statistics of every quantized weight: each weight's bytes beyond its
  /// packed `ceil(n/2)`. They are not parameters: `Params4bit.quant_state` (bitsandbytes
  /// nn/modules.py, mirrored on the module as `Linear4bit.quant_state` so that
  /// `fix_4bit_weight_quant_state_from_module` can restore it after FSDP has replaced the
  /// weight by a view of its flat parameter). FSDP flattens and shards parameters only, and
  /// DeepSpeed ZeRO-3 partitions parameters only, so every GPU keeps all of them, and keeps
  /// them on the GPU under parameter offload too: fsdp_qlora's `load_and_quantize` quantizes
  /// every weight on each rank's GPU "to initialize quant_state on all ranks", then moves only
  /// the packed data to CPU (rank 0) or meta (the others) (AnswerDotAI/fsdp_qlora train.py).
  private var quantizationStatisticsBytes: ByteCount {
    guard engine.shardsParameters, setup.effectiveQuantization.isFourBit,
      setup.recipe.fourBitLayout == .bitsandbytes
    else { return .zero }
    let linears = model.quantizedLinears(in: setup.recipe.linearRoles)
    let shapes =
      linears.map { ($0.weightElements, $0.instanceCount) }
      + (BaseWeights.outputHead(model, setup).map { [($0, Int64(1))] } ?? [])
    return ByteCount.sum(
      shapes.map { elements, count in
        count * (BaseWeights.fourBitBytes(elements, setup) - .elements(elements, bitsEach: 4))
      })
  }

  private func sharded(_ component: MemoryComponent, bytes: ByteCount, keeping kept: ByteCount) -> MemoryComponent {
    let count = shardCount
    let label = engine.label
    let share = Self.share(bytes - kept, count) + kept
    return MemoryComponent(
      component.kind, device: component.device, lifetime: component.lifetime, bytes: share,
      formula:
        "(\(component.formula)) / \(count) GPUs, \(label) shard = \(NumberText.grouped((bytes - kept).bytes)) B / \(count)"
        + (kept > .zero ? " + \(NumberText.grouped(kept.bytes)) B of \(persistentText(component.kind))" : ""),
      source: component.source)
  }

  /// The root FSDP unit's parameters: the token and position embeddings and lm_head (in their
  /// unquantized dtype; a 4-bit head in its 4-bit bytes).
  private var rootUnitBytes: ByteCount {
    let inventory = model.inventory
    let width = setup.unquantizedDtypes.embeddings.resolved(setup.computeDtype).byteWidth
    let head = BaseWeights.outputHead(model, setup)
    let unquantized = ByteCount.elements(inventory.embeddingElements - (head ?? 0), bytesEach: width)
    return unquantized + (head.map { BaseWeights.fourBitBytes($0, setup) } ?? .zero)
  }

  /// The engine's transient buffers on each GPU, from the unsharded components.
  private func buffers(_ components: [MemoryComponent]) -> MemoryComponent? {
    func total(_ kinds: Set<MemoryComponent.Kind>) -> ByteCount {
      ByteCount.sum(components.filter { kinds.contains($0.kind) && $0.device == .gpu }.map(\.bytes))
    }
    let layers = max(1, model.layerCount)
    let parameters = total(Self.parameterKinds)
    let gradients = total([.gradients])
    let g = NumberText.grouped
    let width = setup.computeDtype.tensorDtype.byteWidth
    let gradientWidth = trainable.first?.dtype.byteWidth ?? width
    let buckets = self.buckets
    let reduceBucket = min(gradients, .elements(buckets.reduce, bytesEach: gradientWidth))
    let reduceText =
      "gradient reduce bucket min(\(g(gradients.bytes)) B, reduce_bucket_size \(g(buckets.reduce)) x "
      + "\(gradientWidth) B) = \(g(reduceBucket.bytes))"
    switch engine {
    case .fsdp, .fsdpHybrid:
      // The root unit (embeddings, lm_head, final norm) is not resharded after forward
      // (`_post_forward_reshard`: `free_unsharded_flat_param = not state._is_root and ...`), so it is
      // whole on every GPU from the first forward to the end of backward.
      let root = min(parameters, rootUnitBytes)
      let layer = ByteCount((parameters - root).bytes / layers)
      let bytes = root + 2 * layer + ByteCount(gradients.bytes / layers)
      return MemoryComponent(
        .shardingBuffers, lifetime: .transient, bytes: bytes,
        formula: "root unit (embeddings + lm_head) \(g(root.bytes)) kept whole + 2 x \(g((parameters - root).bytes)) B "
          + "layer parameters / \(layers) layers (current and prefetched all-gather) + \(g(gradients.bytes)) B gradients / "
          + "\(layers) layers (before reduce-scatter)",
        source:
          "PyTorch FSDP FULL_SHARD with forward/backward prefetch (torch/distributed/fsdp/api.py BackwardPrefetch; "
          + "_runtime_utils.py _post_forward_reshard keeps the root unsharded); Answer.AI fsdp_qlora")
    case .zero3:
      let layer = ByteCount(parameters.bytes / layers)
      let live = min(
        .elements(buckets.maxLive, bytesEach: width), layer + .elements(buckets.prefetch, bytesEach: width))
      return MemoryComponent(
        .shardingBuffers, lifetime: .transient, bytes: live + reduceBucket,
        formula: "gathered parameters min(stage3_max_live_parameters \(g(buckets.maxLive)) x \(width) B, one layer "
          + "\(g(parameters.bytes)) B / \(layers) + stage3_prefetch_bucket_size \(g(buckets.prefetch)) x \(width) B) = "
          + "\(g(live.bytes)) + \(reduceText)",
        source:
          "DeepSpeed runtime/zero/partitioned_param_coordinator.py L380-382 (prefetch), config.py L109, L208, L231")
    case .zero2:
      return MemoryComponent(
        .shardingBuffers, lifetime: .transient, bytes: reduceBucket, formula: reduceText,
        source: "DeepSpeed runtime/zero/stage_1_and_2.py (contiguous gradient bucket), config.py L109")
    case .zero1:
      return nil
    }
  }

  /// The engine in words, for the assumptions.
  var assumption: String? {
    guard isActive else { return nil }
    var text =
      "\(engine.label) over \(gpus) GPU\(gpus == 1 ? "" : "s")"
      + (setup.nodeCount > 1 ? " in \(setup.nodeCount) nodes" : "")
      + (engine == .fsdpHybrid ? " (sharded within each node of \(shardCount), replicated across nodes)" : "")
    if !setup.offload.isEmpty { text += "; offload \(setup.offload.description) to host memory" }
    if engine.isDeepSpeed {
      text +=
        "; DeepSpeed casts the module to \(setup.computeDtype.rawValue) (adapters and unquantized tensors), "
        + "and keeps an fp32 master partition for the optimizer"
    }
    return text + "; every figure is per GPU"
  }
}

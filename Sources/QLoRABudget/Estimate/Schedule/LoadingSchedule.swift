/// How the recipe's framework copies checkpoint tensors to the GPU while it loads a quantized
/// model: which 16-bit staging copies are alive at once decides which free blocks loading
/// leaves cached.
public enum CheckpointLoader: Hashable, Sendable {
  /// transformers 5 (`core_model_loading.py`, `convert_and_load_state_dict_in_model`): every
  /// checkpoint tensor is submitted up front to a pool of `workers` threads (`GLOBAL_WORKERS =
  /// 4`), each reading its tensor and copying it to the GPU in 16 bits (`.to(device, dtype)`,
  /// the GPU allocation made before the host-side conversion and copy), first come first
  /// served; the main thread takes the results in key order and quantizes each (the copy is
  /// freed). The workers never wait for the main thread, so behind a large tensor (the
  /// embedding or lm_head first in key order) the other workers stage many copies at once.
  case threaded(workers: Int)
  /// transformers 4.x (`_load_state_dict_into_meta_model`): one tensor at a time, copied and
  /// quantized before the next.
  case sequential
  /// torchtune 0.1 (April 2024) with torchao 0.1: the model is built on the GPU, each base
  /// weight quantized as it is made, one decoder layer deep-copied per layer (each copy of a
  /// 4-bit weight dequantized and quantized again), then every 4-bit weight quantized once more
  /// from the checkpoint by `load_state_dict`; torchao 0.1 quantizes a whole weight at once
  /// (``TorchtuneLoadingSchedule``, ``TorchAO01Quantization``).
  case torchtune01

  /// The other model, which brackets the truth with this one (the thread timing is not known).
  var alternative: CheckpointLoader {
    switch self {
    case .threaded: return .sequential
    case .sequential: return .threaded(workers: 4)
    // One thread, in program order: no timing to bracket.
    case .torchtune01: return .torchtune01
    }
  }

  /// The model in words.
  public var label: String {
    switch self {
    case .threaded(let count):
      return "\(count) worker threads staging copies ahead of the quantizing thread (transformers 5)"
    case .sequential: return "one tensor at a time (transformers 4.x loader)"
    case .torchtune01:
      return
        "model built on the GPU, layers deep-copied, then loaded; whole-tensor NF4 quantization (torchtune 0.1, torchao 0.1)"
    }
  }

  /// One moment of loading: a tensor's staging copy allocated, or the main thread taking it.
  enum Step: Equatable {
    case stage(Int)
    case take(Int)
  }

  /// The timing of the threaded model (the allocator study's loader model,
  /// Tests/Calibration/README.md): a worker reads a tensor at 2 GB/s after 0.2 ms of
  /// task overhead, then allocates its GPU copy, converts and copies at 2 GB/s; the main thread
  /// spends 0.5 ms on each tensor it takes. Only the ratios matter for the order, and they are
  /// what is uncertain: the sequential model brackets them.
  private static let readBytesPerSecond = 2e9
  private static let copyBytesPerSecond = 2e9
  private static let taskSeconds = 2e-4
  private static let takeSeconds = 5e-4

  /// The order of the moments for tensors of `stagingBytes` (in key order): each tensor's
  /// staging copy precedes its taking, and tensors are taken in order.
  func steps(stagingBytes: [Int64]) -> [Step] {
    guard case .threaded(let count) = self, count > 1 else {
      return stagingBytes.indices.flatMap { [Step.stage($0), .take($0)] }
    }
    // Workers take tasks in submission order, each when it is free (the earliest first).
    var freeAt = Array(repeating: 0.0, count: count)
    var stages: [(time: Double, index: Int)] = []
    stages.reserveCapacity(stagingBytes.count)
    var ready: [Double] = []
    ready.reserveCapacity(stagingBytes.count)
    for (index, bytes) in stagingBytes.enumerated() {
      let worker = freeAt.indices.min { freeAt[$0] < freeAt[$1] }!
      let allocated = freeAt[worker] + Self.taskSeconds + Double(bytes) / Self.readBytesPerSecond
      freeAt[worker] = allocated + Double(bytes) / Self.copyBytesPerSecond
      ready.append(freeAt[worker])
      stages.append((allocated, index))
    }
    stages.sort { ($0.time, $0.index) < ($1.time, $1.index) }
    // The main thread takes the tensors in order at times that never decrease, so its steps are
    // already in time order: merged with the sorted staging copies. At equal times, staging
    // copies (submitted first) come before the main thread's steps.
    var steps: [Step] = []
    steps.reserveCapacity(2 * stagingBytes.count)
    var next = 0
    var main = 0.0
    for index in stagingBytes.indices {
      main = max(main, ready[index]) + Self.takeSeconds
      while next < stages.count, stages[next].time <= main {
        steps.append(.stage(stages[next].index))
        next += 1
      }
      steps.append(.take(index))
    }
    return steps + stages[next...].map { .stage($0.index) }
  }
}

/// Loading on one GPU, in the loader's order: each checkpoint tensor's 16-bit staging copy, then
/// its quantized buffers (the copy is freed) or the copy kept as the parameter; then
/// `prepare_model_for_kbit_training` casting each 16-bit parameter to its final dtype in
/// parameter order (the 16-bit original is freed), then the LoRA adapters. A checkpoint's
/// `llm_int8_skip_modules` instances load like the embedding: their copy is the parameter,
/// upcast by prepare in its layer's turn. The totals are the resident components' bytes
/// exactly: what the item list does not name (norms, biases, buffers: small tensors) is one
/// summarised allocation per component.
struct LoadingSchedule {
  /// One checkpoint tensor: its staging copy and what it becomes.
  private struct Item {
    var staging: ByteCount
    /// The quantized buffers made from the copy (empty: the copy is the parameter).
    var quantized: [ByteCount]
    /// The bytes the parameter is cast to after loading (nil: kept as loaded).
    var upcast: ByteCount?
  }

  static func emit(
    into schedule: inout AllocationSchedule, model: ModelArchitecture, setup: TrainingSetup,
    resident: [MemoryComponent], adapters: [ByteCount], loader: CheckpointLoader, detailed: Bool
  ) {
    func bytes(_ kind: MemoryComponent.Kind) -> ByteCount {
      ByteCount.sum(resident.filter { $0.kind == kind }.map(\.bytes))
    }
    let load = setup.computeDtype.tensorDtype.byteWidth
    let inventory = model.inventory
    let quantization = setup.effectiveQuantization
    // Decoder linears, layer by layer, in the checkpoint's key order within a layer.
    var layerItems: [Item] = []
    let linears = inventory.linears(in: setup.recipe.linearRoles).sorted { $0.path < $1.path }
    let layers = max(1, model.layerCount)
    var quantizedTotal = ByteCount.zero
    var linearTotal = ByteCount.zero
    // The layers in which the checkpoint keeps each module unquantized (none without skips).
    let skippedLayers = linears.map { quantization.isQuantized ? model.skippedLayers(of: $0) : [] }
    for (module, skipped) in zip(linears, skippedLayers) {
      let quantizedCount = module.instanceCount - Int64(skipped.count)
      let item: Item
      switch quantization {
      case .nf4, .fp4:
        let result = BaseWeights.fourBitBytes(module.weightElements, setup)
        let packed = ByteCount.elements(module.weightElements, bitsEach: 4)
        // bitsandbytes' quantize_4bit allocates the absmax (and other statistics) before the packed weight.
        item = Item(
          staging: .elements(module.weightElements, bytesEach: load), quantized: [result - packed, packed], upcast: nil)
        quantizedTotal = quantizedTotal + quantizedCount * result
      case .int8:
        let result =
          ByteCount.elements(module.weightElements, bytesEach: 1) + .elements(module.outFeatures, bytesEach: 4)
        item = Item(staging: .elements(module.weightElements, bytesEach: load), quantized: [result], upcast: nil)
        quantizedTotal = quantizedTotal + quantizedCount * result
      case .none:
        let width =
          setup.isFullFineTune ? setup.fullFineTuneParameterDtype.byteWidth : setup.computeDtype.tensorDtype.byteWidth
        let weight = ByteCount.elements(module.weightElements, bytesEach: width)
        item = Item(staging: weight, quantized: [], upcast: nil)
        linearTotal = linearTotal + module.instanceCount * weight
      }
      layerItems.append(item)
    }
    let perLayer = linears.map { $0.instanceCount / Int64(layers) }
    // Embedding and (untied, unquantized) lm_head: loaded in 16 bits, cast by prepare.
    let final = setup.unquantizedDtypes.embeddings.resolved(setup.computeDtype).byteWidth
    let headElements = BaseWeights.outputHead(model, setup) == nil ? inventory.lmHeadElements : 0
    let embeddingWidth =
      quantization.isQuantized ? final : (setup.isFullFineTune ? setup.fullFineTuneParameterDtype.byteWidth : final)
    func large(_ elements: Int64) -> Item? {
      guard elements > 0 else { return nil }
      let loaded = ByteCount.elements(elements, bytesEach: min(load, embeddingWidth))
      let cast = ByteCount.elements(elements, bytesEach: embeddingWidth)
      return Item(staging: loaded, quantized: [], upcast: cast == loaded ? nil : cast)
    }
    let head = large(headElements)
    let embedding = large(inventory.tokenEmbeddingElements)
    let quantizedHead = BaseWeights.outputHead(model, setup).map { elements -> Item in
      let result = BaseWeights.fourBitBytes(elements, setup)
      quantizedTotal = quantizedTotal + result
      return Item(staging: .elements(elements, bytesEach: load), quantized: [result], upcast: nil)
    }
    // A skipped instance is a 16-bit parameter (skips match one-instance-per-layer modules only).
    let skippedItems = zip(linears, skippedLayers).map { $1.isEmpty ? nil : large($0.weightElements) }
    let skippedTotal = ByteCount.sum(
      zip(skippedItems, skippedLayers).map { item, layers in
        Int64(layers.count) * (item.map { $0.upcast ?? $0.staging } ?? .zero)
      })
    let unquantizedNamed =
      ByteCount.sum([head, embedding].compactMap { $0.map { $0.upcast ?? $0.staging } }) + linearTotal + skippedTotal
    // A component the items do not reproduce (an engine's shards, another layout) is one block.
    let itemsMatch =
      detailed && quantizedTotal <= bytes(.quantizedWeights) && unquantizedNamed <= bytes(.unquantizedWeights)
      && perLayer.allSatisfy { $0 > 0 } && linears.allSatisfy { $0.instanceCount % Int64(layers) == 0 }
    guard itemsMatch else {
      for kind in [MemoryComponent.Kind.quantizedWeights, .unquantizedWeights] {
        schedule.allocate(bytes(kind), kind == .quantizedWeights ? .quantizedWeight : .unquantizedWeight)
      }
      emitAdapters(into: &schedule, bytes: bytes(.adapters), tensors: adapters)
      return
    }
    // transformers sorts keys naturally: lm_head, model.embed_tokens, model.layers.0..., model.norm.
    var items: [Item] = [quantizedHead ?? head, embedding].compactMap { $0 }
    var skippedIndices: [Int] = []
    for layer in 0..<layers {
      for (index, item) in layerItems.enumerated() {
        if skippedLayers[index].contains(layer), let kept = skippedItems[index] {
          skippedIndices.append(items.count)
          items.append(kept)
        } else {
          for _ in 0..<perLayer[index] { items.append(item) }
        }
      }
    }
    var staged: [Int32] = Array(repeating: -1, count: items.count)
    for step in loader.steps(stagingBytes: items.map(\.staging.bytes)) {
      switch step {
      case .stage(let index):
        let item = items[index]
        let tensor: ScheduledTensor =
          !item.quantized.isEmpty ? .stagingCopy : item.upcast != nil ? .originalWeight : .unquantizedWeight
        staged[index] = schedule.allocate(item.staging, tensor)
      case .take(let index):
        guard !items[index].quantized.isEmpty else { continue }
        for part in items[index].quantized { schedule.allocate(part, .quantizedWeight) }
        schedule.free(staged[index])
      }
    }
    // Norms, biases, buffers and the like: small, summarised.
    schedule.allocate(bytes(.quantizedWeights) - quantizedTotal, .quantizedWeight)
    schedule.allocate(bytes(.unquantizedWeights) - unquantizedNamed, .unquantizedWeight)
    // prepare_model_for_kbit_training, in parameter order: embed_tokens first, the layers' kept
    // linears, lm_head last.
    let headIndex = quantizedHead == nil && head != nil ? 0 : -1
    let embeddingIndex = embedding == nil ? -1 : (quantizedHead != nil || head != nil ? 1 : 0)
    for index in [embeddingIndex] + skippedIndices + [headIndex] where index >= 0 {
      guard let cast = items[index].upcast else { continue }
      schedule.allocate(cast, .unquantizedWeight)
      schedule.free(staged[index])
    }
    emitAdapters(into: &schedule, bytes: bytes(.adapters), tensors: adapters)
  }

  /// The adapters, tensor by tensor in peft's order (`tensors`, layer-major), when they are the
  /// component's bytes.
  private static func emitAdapters(into schedule: inout AllocationSchedule, bytes: ByteCount, tensors: [ByteCount]) {
    guard bytes > .zero else { return }
    if ByteCount.sum(tensors) == bytes {
      for tensor in tensors { schedule.allocate(tensor, .adapter) }
    } else {
      schedule.allocate(bytes, .adapter)
    }
  }
}

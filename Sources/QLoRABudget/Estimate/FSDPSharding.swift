/// Per-GPU memory when a run is sharded over several GPUs, FSDP-QLoRA style.
///
/// Answer.AI's fsdp_qlora (and FSDP / DeepSpeed ZeRO-3 with QLoRA) shard every parameter,
/// gradient and optimizer moment across the `N` GPUs and replicate the rest: each GPU runs its
/// own micro-batch, so activations, logits, dequantization buffers and the CUDA runtime are
/// per GPU as on one. Before a layer runs, its parameters are all-gathered into a full copy and
/// the next layer's gather is prefetched while it computes, so two layers' parameters are in
/// flight, plus one layer's full gradients before their reduce-scatter:
///
///     sharded component per GPU = ceil(bytes / N)
///     gather = 2 x (parameter bytes / layers) + gradient bytes / layers
///
/// The estimator applies this before it computes the step's peak, so the allocator's reserve
/// and every other per-GPU figure follow the sharded bytes. A layer's share spreads the
/// embeddings over the layers (slightly high for a decoder layer, low for the root unit of a
/// huge vocabulary). Sources: PyTorch FSDP `FULL_SHARD` with forward/backward prefetch;
/// Answer.AI fsdp_qlora (quantized storage in uint8, so 4-bit weights shard like any other).
enum FSDPSharding {
  static let shardedKinds: Set<MemoryComponent.Kind> = [
    .quantizedWeights, .unquantizedWeights, .adapters, .gradients, .optimizerState,
  ]

  /// `components` as each of `gpuCount` GPUs holds them.
  static func shard(_ components: [MemoryComponent], over gpuCount: Int64) -> [MemoryComponent] {
    guard gpuCount > 1 else { return components }
    return components.map { component in
      guard shardedKinds.contains(component.kind) else { return component }
      let bytes = component.bytes
      return MemoryComponent(
        component.kind, device: component.device, lifetime: component.lifetime, bytes: share(bytes, gpuCount),
        formula: "(\(component.formula)) / \(gpuCount) GPUs, FSDP shard = \(NumberText.grouped(bytes.bytes)) B / \(gpuCount)",
        source: component.source)
    }
  }

  /// One GPU's share of `bytes`, rounded up.
  static func share(_ bytes: ByteCount, _ gpuCount: Int64) -> ByteCount {
    guard !bytes.isOverflow else { return .overflow }
    return ByteCount(bytes.bytes / gpuCount + (bytes.bytes % gpuCount == 0 ? 0 : 1))
  }

  /// The gather buffers, from the unsharded components; nil for one GPU.
  static func gatherBuffer(_ components: [MemoryComponent], model: ModelArchitecture, gpuCount: Int64) -> MemoryComponent? {
    guard gpuCount > 1 else { return nil }
    func total(_ kinds: Set<MemoryComponent.Kind>) -> ByteCount {
      ByteCount.sum(components.filter { kinds.contains($0.kind) && $0.device == .gpu }.compactMap(\.bytes))
    }
    let layers = max(1, model.layerCount)
    let parameters = total([.quantizedWeights, .unquantizedWeights, .adapters])
    let gradients = total([.gradients])
    let bytes = 2 * ByteCount(parameters.bytes / layers) + ByteCount(gradients.bytes / layers)
    return MemoryComponent(
      .shardingBuffers, lifetime: .transient, bytes: bytes,
      formula: "2 x \(NumberText.grouped(parameters.bytes)) B parameters / \(layers) layers (current and prefetched "
        + "all-gather) + \(NumberText.grouped(gradients.bytes)) B gradients / \(layers) layers (before reduce-scatter)",
      source: "PyTorch FSDP FULL_SHARD with forward/backward prefetch; Answer.AI fsdp_qlora")
  }
}

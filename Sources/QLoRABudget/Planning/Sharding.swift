/// The memory of each GPU when a run is sharded over several, FSDP-QLoRA style.
///
/// Answer.AI's fsdp_qlora (and FSDP / DeepSpeed ZeRO-3 with QLoRA) shard every parameter,
/// gradient and optimizer moment across the `N` GPUs and replicate the rest: each GPU runs its
/// own micro-batch, so activations, logits, dequantization buffers and the CUDA runtime are
/// per GPU as on one. Before a layer runs, its parameters are all-gathered into a full copy,
/// and the next layer's gather is prefetched while it computes, so two layers' parameters
/// are in flight:
///
///     per GPU = measured - sharded + ceil(sharded / N) + gather        (N > 1)
///     sharded = quantized + unquantized weights + adapters + optimizer state (GPU part)
///               (+ gradients when the measure is the peak, where they are counted)
///     gather  = 2 x one layer's share of the parameter bytes (+ one layer's gradients for
///               reduce-scatter when gradients are counted)
///
/// A layer's share is the parameter bytes divided by the layer count, which spreads the
/// embeddings over the layers (a slight overestimate for one layer, an underestimate of the
/// root unit's gather for a huge vocabulary). Source: PyTorch FSDP `FULL_SHARD` with
/// `forward_prefetch`/`backward_prefetch`; Answer.AI fsdp_qlora (quantized storage in uint8
/// so the 4-bit weights shard and gather like any other parameter).
public enum Sharding {
  /// The bytes each of `gpuCount` GPUs holds, given the single-GPU figure `measured` of `estimate`.
  ///
  /// - Parameters:
  ///   - countsGradients: whether `measured` includes the gradients (the peak does, the
  ///     resident bytes do not).
  public static func perGPU(
    _ estimate: MemoryEstimate, measured: ByteCount, gpuCount: Int64, countsGradients: Bool
  ) -> ByteCount {
    precondition(gpuCount >= 1, "A run needs at least one GPU.")
    guard gpuCount > 1 else { return measured }
    let sharded = shardedBytes(estimate, countsGradients: countsGradients)
    let share = ByteCount((sharded.bytes + gpuCount - 1) / gpuCount)
    return measured - sharded + share + gatherBuffer(estimate, countsGradients: countsGradients)
  }

  /// The bytes FSDP splits across the GPUs.
  public static func shardedBytes(_ estimate: MemoryEstimate, countsGradients: Bool) -> ByteCount {
    var kinds: [MemoryComponent.Kind] = [.quantizedWeights, .unquantizedWeights, .adapters, .optimizerState]
    if countsGradients { kinds.append(.gradients) }
    return ByteCount.sum(kinds.compactMap { estimate.bytes(of: $0, on: .gpu) })
  }

  /// The full copy of two layers' parameters in flight (and one layer's gradients).
  public static func gatherBuffer(_ estimate: MemoryEstimate, countsGradients: Bool) -> ByteCount {
    let layers = max(1, estimate.model.layerCount)
    let parameters = ByteCount.sum(
      [MemoryComponent.Kind.quantizedWeights, .unquantizedWeights, .adapters].compactMap { estimate.bytes(of: $0, on: .gpu) })
    var buffer = 2 * ByteCount(parameters.bytes / layers)
    if countsGradients, let gradients = estimate.bytes(of: .gradients, on: .gpu) {
      buffer = buffer + ByteCount(gradients.bytes / layers)
    }
    return buffer
  }
}

/// When each gradient of a step appears in backward. Autograd's `AccumulateGrad` creates a
/// parameter's `.grad` when that parameter's node runs, so backward walks the layers in reverse
/// holding the gradients of the layers already done, not the whole model's:
/// - before the layers: lm_head's and the final norm's (the loss's backward), and a tied token
///   embedding's (its weight is lm_head's);
/// - layer by layer: each decoder layer's own tensors (LoRA adapters, or its weights in a full
///   fine-tune) as that layer's backward runs;
/// - after the layers: an untied token (and position) embedding's, the last nodes.
/// Measured: Mistral-7B dimensions, NF4, r16, 512 tokens, checkpointing (modules-to-save steps):
/// charging every LoRA gradient at the first layer's backward put the layer moment 140 MiB over
/// the step's true backward peak.
///
/// Sharded engines keep another share of the gradients (``EngineSharding``): then all of it is
/// charged before the layers, as one block; so are the gradients of a stack of two layer kinds.
struct GradientTiming {
  let beforeLayers: [ByteCount]
  /// Index = decoder layer (0 first in forward, last in backward).
  let perLayer: [[ByteCount]]
  let afterLayers: [ByteCount]
  /// A tied, trainable token embedding gets a second gradient from its embedding lookup at the
  /// end of backward, and AccumulateGrad adds it out of place: the new gradient and the sum
  /// beside the old one, two embedding-sized tensors (measured: held-out
  /// `llama-3.2-1b-s512-b1-full-gc-sdpa`, whose backward peak is `EmbeddingBackward0`'s
  /// `aten::add` at 1, 2 and 4 layers: every gradient + 2 x 128,256 x 2,048 x 2 B).
  let tiedEmbeddingAccumulation: ByteCount

  /// For a group outside the decoder layers (by its path), whether its gradient appears before
  /// the layers' backward (`true`) or after it; nil for a group inside the layers.
  private static func outside(_ group: TrainableTensorGroup, tied: Bool) -> Bool? {
    // modules_to_save copies are untied: an embedding's copy is the last node, the others
    // (lm_head, norms) are reached from the loss.
    if SavedModuleCopies.isCopy(group) { return !SavedModuleCopies.isEmbeddingCopy(group) }
    if group.pathHasPrefix("lm_head") || group.pathHasPrefix("final_norm") { return true }
    if group.pathHasPrefix("embed_tokens") || group.pathHasPrefix("wte") { return tied }
    if group.pathHasPrefix("embed_positions") || group.pathHasPrefix("wpe") { return false }
    return nil
  }

  init(model: ModelArchitecture, trainable: [TrainableTensorGroup], gradients: ByteCount) {
    let layers = Int(max(1, model.layerCount))
    let everything = ByteCount.sum(trainable.lazy.map(\.bytes))
    let embedding = trainable.lazy.filter {
      ($0.pathHasPrefix("embed_tokens") || $0.pathHasPrefix("wte")) && !SavedModuleCopies.isCopy($0)
    }
    tiedEmbeddingAccumulation = model.tiesWordEmbeddings ? 2 * ByteCount.sum(embedding.map(\.bytes)) : .zero
    guard everything == gradients else {
      beforeLayers = [gradients]
      perLayer = Array(repeating: [], count: layers)
      afterLayers = []
      return
    }
    var before: [ByteCount] = []
    var after: [ByteCount] = []
    var inLayers: [TrainableTensorGroup] = []
    // A group inside the layers whose tensors do not split evenly over them.
    var uneven = false
    for group in trainable {
      let tensors = repeatElement(
        ByteCount.elements(group.elementsPerTensor, bytesEach: group.dtype.byteWidth), count: Int(group.tensorCount))
      switch Self.outside(group, tied: model.tiesWordEmbeddings) {
      case true?: before += tensors
      case false?: after += tensors
      case nil:
        if group.tensorCount % Int64(layers) == 0 {
          inLayers.append(group)
        } else {
          before += tensors
          uneven = true
        }
      }
    }
    // A stack of two layer kinds (an MoE with dense layers) has per-kind groups that do not
    // split over the layers: there every gradient is charged before the layers, as an upper
    // bound (and one that never falls as layers are added).
    if uneven {
      beforeLayers = TensorOrder.layerMajor(trainable)
      perLayer = Array(repeating: [], count: layers)
      afterLayers = []
      return
    }
    // Layer-major within each layer, as peft registers them (``TensorOrder``). Every layer holds
    // the same tensors, so the layers share one array.
    var layerTensors: [ByteCount] = []
    for group in inLayers {
      let tensor = ByteCount.elements(group.elementsPerTensor, bytesEach: group.dtype.byteWidth)
      layerTensors.append(contentsOf: repeatElement(tensor, count: Int(group.tensorCount) / layers))
    }
    beforeLayers = before
    perLayer = Array(repeating: layerTensors, count: layers)
    afterLayers = after
  }

  /// The gradients alive while layer `index` runs its backward: those before the layers and
  /// those of layers `index` and above.
  func alive(atLayer index: Int) -> ByteCount {
    ByteCount.sum(beforeLayers) + ByteCount.sum(perLayer[index...].flatMap { $0 })
  }
}

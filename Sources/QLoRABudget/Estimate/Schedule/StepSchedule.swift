/// One training step as allocations and frees, walked in the order ``StepPeak`` reasons about
/// it, so that the live bytes of each phase reach exactly that phase's moment above the
/// resident bytes: forward layer by layer (kept inputs or saved tensors, the working set, the
/// temporaries, the dequantized weight; a checkpointed layer in op order, the last one holding
/// the whole moment), the loss, backward (the loss's gradients, then layer
/// by layer in reverse: the MLP block, then attention's, each layer's kept tensors freed after
/// it), then the optimizer step with its temporaries.
///
/// Gradients appear when autograd reaches their parameters (``GradientTiming``): lm_head's
/// before the layers, each layer's at the start of its backward (an upper bound within the
/// layer), an untied embedding's after them. Where the estimate is an upper bound the schedule
/// follows it: the first layer processed in backward is the layer kind with the larger moment.
struct StepSchedule {
  let step: StepPeak
  let context: StepContext
  let trainable: [TrainableTensorGroup]
  /// The trainable tensors layer-major (``TensorOrder``): made once for the run's schedule.
  let tensors: [ByteCount]

  init(step: StepPeak, context: StepContext, trainable: [TrainableTensorGroup]) {
    self.step = step
    self.context = context
    self.trainable = trainable
    tensors = TensorOrder.layerMajor(trainable)
  }

  /// One step: zero_grad frees `previousGradients`; `optimizerState` (bytes, created in this
  /// step's optimizer phase, empty once it exists) and `workspaces` (allocated at the first
  /// matmul of forward and of backward, empty once they exist).
  /// Returns the ids of the gradients, freed by the next step's zero_grad.
  /// The warm-up step marks no phases (its moments are not the measured ones).
  func emit(
    into schedule: inout AllocationSchedule, previousGradients: [Int32], optimizerState: [ByteCount],
    workspaces: [ByteCount],
    marksPhases: Bool
  ) -> [Int32] {
    func enter(_ phase: SchedulePhase) { if marksPhases { schedule.enter(phase) } }
    let setup = context.setup
    let model = context.model
    let stack = step.stack
    let loss = step.loss
    let plain = setup.trainingLoop == .plain
    let checkpointing = setup.usesGradientCheckpointing
    let layers = Int(max(1, model.layerCount))
    schedule.free(previousGradients)
    enter(.forward)
    let rotary = schedule.allocate(step.rotary, .stepConstant)
    let mask = schedule.allocate(step.causalMask, .stepConstant)
    // What the previous step leaves alive until this forward returns (``StepPeak/previousStep``);
    // the warm-up step has no previous step.
    let previous = marksPhases ? schedule.allocate(step.previousStep, .previousStep) : -1
    if let first = workspaces.first { schedule.allocate(first, .workspace) }
    let cacheBeyondSaved = stack.savesCachedKeyValue ? .zero : step.keyValueCache
    // Layer order: without checkpointing the first layer is dense (it saves less: no input
    // gradient) and the last is the kind whose backward moment is the larger.
    let layerKinds = stack.layerKinds(count: layers, checkpointing: checkpointing)
    let kinds = layerKinds.map(stack.layer)
    var kept: [[Int32]] = []
    let keptInputs = checkpointing ? stack.keptParts(layerKinds, checkpointing: true) : []
    var castIDs: [Int32] = []
    var cacheIDs: [Int32] = []
    // Each layer's share of what is split evenly over the layers.
    func share(_ total: ByteCount, _ index: Int) -> ByteCount { Self.piece(index, of: total, in: layers) }
    // Ids of a layer's short-lived tensors, freed within the layer: storage reused layer by layer.
    var blockIDs: [Int32] = []
    var temporaryIDs: [Int32] = []
    for index in 0..<layers {
      if checkpointing {
        kept.append([schedule.allocate(keptInputs[index], .layerInput)])
      } else {
        let layer = kinds[index]
        let less = index == 0 ? layer.savedForInputGradient : .zero
        var ids: [Int32] = []
        var attentionBytes = layer.attentionSaved - less
        for term in layer.attentionSavedTerms {
          let bytes = min(term.bytes, attentionBytes)
          attentionBytes = attentionBytes - bytes
          ids.append(schedule.allocate(bytes, .savedActivation))
        }
        let feedForward = layer.feedForwardSavedTerms.flatMap(\.parts).map { schedule.allocate($0, .savedActivation) }
        // The attention block's tensors first, then the MLP's: backward frees the MLP's first.
        kept.append(ids + [-2] + feedForward)
      }
      castIDs.append(schedule.allocate(share(step.autocastCache, index), .stepConstant))
      cacheIDs.append(schedule.allocate(share(cacheBeyondSaved, index), .keyValueCache))
      // A checkpointed forward in op order (grad off): attention's tensors and its temporaries,
      // freed before the MLP's tensors are made. The last layer, where every kept input is live,
      // reaches the estimate's forward moment: the dequantized weight joins the block whose moment
      // is the larger, and where that moment is the layer's whole working set (SDPA) the blocks are
      // allocated together. The other checkpointed layers allocate each block's own tensors, as the
      // recorded sequences of the allocator study show (fitcheck-t4, SDPA as eager: the norm output,
      // q/k/v and attention's output die before the MLP's norm and gate/up outputs are made), and no
      // dequantized weight: a weight-sized block freed in every layer is what the next kept input
      // would carve. (bitsandbytes 0.50.2 does dequantize in every forward projection on the T4;
      // one such transient per layer leaves the simulated reserve of the SDPA runs unchanged,
      // docs/estimation.md "The schedule".)
      let dequantized = index == layers - 1 || !checkpointing
      // Only the measured step's last layer keeps the estimate's bound (its allocated peak is the
      // breakdown's); the warm-up step's last layer runs in op order as the real one does.
      let bound = dequantized && (marksPhases || !checkpointing)
      let blocks =
        bound
        ? (attention: stack.forwardAttentionWorkingSet, feedForward: stack.forwardFeedForwardWorkingSet)
        : stack.forwardBlocksInOpOrder
      schedule.allocate(blocks.attention, .recomputedActivation, ids: &blockIDs)
      schedule.allocate(stack.forwardTransients, .forwardTemporary, ids: &temporaryIDs)
      if dequantized && stack.forwardMomentIsAttention {
        schedule.free(schedule.allocate(step.dequant.bytes, .dequantizedWeight))
      }
      schedule.free(temporaryIDs)
      schedule.free(blockIDs)
      schedule.allocate(blocks.feedForward, .recomputedActivation, ids: &blockIDs)
      if dequantized && !stack.forwardMomentIsAttention {
        schedule.free(schedule.allocate(step.dequant.bytes, .dequantizedWeight))
      }
      schedule.free(blockIDs)
    }
    // The loss, inside the model's forward.
    let finalNorm = schedule.allocate(loss.finalNorm, .savedActivation)
    let lastHidden = schedule.allocate(loss.lastHiddenState, .logits)
    let weightCopy = schedule.allocate(loss.weightCopy, .logits)
    let labels = schedule.allocate(loss.labels, .logits)
    // The fp32-logits loss's 16-bit lm_head output, freed once `.float()` has copied it.
    let headOutput = schedule.allocate(loss.headOutput, .logits)
    let logits = schedule.allocate(loss.logits, .logits)
    schedule.free(headOutput)
    // A 4-bit lm_head's dequantized weight beside every logit (``StepPeak/outputHeadMoment``).
    if step.outputHeadMoment > .zero {
      schedule.free(schedule.allocate(step.outputHeadDequant, .dequantizedWeight))
    }
    let softcap = schedule.allocate(loss.softcap, .logits)
    let upcast = schedule.allocate(loss.upcast, .logits)
    let logProbabilities = schedule.allocate(loss.logProbabilities, .logits)
    let inputGradient = schedule.allocate(loss.inputGradient, .logits)
    schedule.markLossChunk()
    let chunk = schedule.allocate(loss.chunk, .logits)
    // lm_head's input stays when its 4-bit matmul keeps it (``StepPeak/retainedHeadInput``).
    schedule.free([chunk, upcast, previous])
    var retained: [Int32] = []
    if step.retainedHeadInput > .zero { retained.append(lastHidden) } else { schedule.free(lastHidden) }
    if loss.heldOutput == .zero { schedule.free(logits) }
    if loss.isFused { schedule.free(labels) }
    if checkpointing { schedule.free(castIDs) }
    if !plain { schedule.free(cacheIDs) }

    enter(.backward)
    if workspaces.count > 1 { schedule.allocate(workspaces[1], .workspace) }
    let chunkAgain = loss.tokenChunking?.checkpointsChunks == true ? schedule.allocate(loss.chunk, .logits) : -1
    let nllGradient = schedule.allocate(loss.gradient, .lossGradient)
    var lossGradient = schedule.allocate(loss.gradient, .lossGradient)
    // Log-softmax's backward is done: its saved output and the gradient it took go; then the
    // gradients of the shift's slices and the upcast, each beside the one before it, the last
    // live until lm_head's backward has made its input gradient.
    schedule.free([logProbabilities, nllGradient])
    for bytes in loss.backwardCopies {
      let next = schedule.allocate(bytes, .lossGradient)
      schedule.free(lossGradient)
      lossGradient = next
    }
    schedule.free([chunkAgain, finalNorm, weightCopy, softcap, inputGradient])
    if !loss.isFused { schedule.free(labels) }
    let moment = stack.backwardMoment
    var incoming = schedule.allocate(moment.residualGradient, .residualGradient)
    schedule.free(lossGradient)
    let timing = step.gradientTiming
    var gradients = timing.beforeLayers.map { schedule.allocate($0, .gradient) }
    var recomputedAttention: [Int32] = []
    var recomputedFeedForward: [Int32] = []
    var block: [Int32] = []
    for index in stride(from: layers - 1, through: 0, by: -1) {
      // The layer's fields are read in place: a copy of the whole layer retains every array in it.
      // The first layer's goes to its input, the embeddings' output, in their dtype.
      let outgoing = schedule.allocate(
        index == 0 ? moment.firstLayerInputGradient : moment.residualGradient, .residualGradient)
      // Each layer's own gradients appear as its backward runs (allocated before its moment).
      for bytes in timing.perLayer[index] { gradients.append(schedule.allocate(bytes, .gradient)) }
      // The recomputed forward saves each of a term's equal tensors on its own (the gate, activation
      // and up outputs are three tensors): smaller blocks fit where freed loss tensors left room.
      if checkpointing {
        recomputedAttention = kinds[index].attentionSavedTerms.flatMap(\.parts).map {
          schedule.allocate($0, .recomputedActivation)
        }
        recomputedFeedForward = kinds[index].feedForwardSavedTerms.flatMap(\.parts).map {
          schedule.allocate($0, .recomputedActivation)
        }
      }
      schedule.allocate(kinds[index].feedForwardBackwardTransients, .backwardTemporary, ids: &block)
      block.append(schedule.allocate(moment.feedForwardDequant, .dequantizedWeight))
      schedule.free(block.reversed())
      schedule.free(recomputedFeedForward)
      if !checkpointing, let split = kept[index].firstIndex(of: -2) {
        schedule.free(Array(kept[index][(split + 1)...]))
        kept[index] = Array(kept[index][..<split])
      }
      schedule.allocate(kinds[index].attentionBackwardTransients, .backwardTemporary, ids: &block)
      block.append(schedule.allocate(moment.attentionDequant, .dequantizedWeight))
      schedule.free(block.reversed())
      schedule.free(recomputedAttention)
      schedule.free(incoming)
      incoming = outgoing
      // The first layer's input is the embeddings' output, which the graph keeps with
      // checkpointing (graphLeftovers) while the loss lives.
      if !(checkpointing && index == 0 && keptInputs[0] == moment.firstLayerInputGradient) {
        schedule.free(kept[index])
      }
      // What its 4-bit matmuls keep outlives the layer's backward (``StepPeak/retainsMatmulInputs``):
      // the same tensors, allocated again where they were freed.
      if step.retainsMatmulInputs {
        for bytes in stack.retainedAfterBackward(layerKinds[index], first: index == 0) {
          retained.append(schedule.allocate(bytes, .savedActivation))
        }
      }
    }
    // What the graph still references (checkpointing): the embeddings' output and its gradient,
    // and with reentrant checkpointing the rotary tables and the mask.
    var leftovers: [Int32] = []
    if checkpointing {
      leftovers.append(incoming)
      if keptInputs[0] == moment.firstLayerInputGradient {
        leftovers += kept[0]
      } else {
        leftovers.append(schedule.allocate(moment.firstLayerInputGradient, .residualGradient))
      }
      if step.keepsCheckpointArguments { leftovers += [rotary, mask] } else { schedule.free([rotary, mask]) }
    } else {
      schedule.free([incoming, rotary, mask])
      schedule.free(castIDs)
    }
    var held: [Int32] = loss.heldOutput > .zero ? [logits] : []
    if plain {
      held += cacheIDs
      // The cache the attention saved as its own k and v outlives the saved tensors.
      if cacheBeyondSaved == .zero { held.append(schedule.allocate(step.keyValueCache, .keyValueCache)) }
    }
    // The embeddings' backward: an untied embedding's gradient, a tied one's accumulation.
    gradients += timing.afterLayers.map { schedule.allocate($0, .gradient) }
    let accumulation = schedule.allocate(timing.tiedEmbeddingAccumulation, .backwardTemporary)
    schedule.free(accumulation)

    enter(.optimizer)
    for state in optimizerState { schedule.allocate(state, .optimizerState) }
    let temporaries = optimizerTemporaries().map { schedule.allocate($0, .optimizerTemporary) }
    schedule.free(temporaries)
    schedule.free(leftovers)
    schedule.free(held)
    schedule.free(retained)
    return gradients
  }

  /// torch's foreach AdamW square roots, one per tensor, when they are the step's bytes.
  private func optimizerTemporaries() -> [ByteCount] {
    ByteCount.sum(tensors) == step.optimizerTemporaries ? tensors : [step.optimizerTemporaries]
  }

  /// `total` in `parts` pieces, the remainder on the last.
  static func split(_ total: ByteCount, _ parts: Int) -> [ByteCount] {
    (0..<max(1, parts)).map { piece($0, of: total, in: parts) }
  }

  /// Piece `index` of ``split(_:_:)``, without building the array (the schedule reads one piece
  /// per layer).
  static func piece(_ index: Int, of total: ByteCount, in parts: Int) -> ByteCount {
    guard parts > 1, total > .zero else { return index == 0 ? total : .zero }
    let each = ByteCount(total.bytes / Int64(parts))
    return index == parts - 1 ? total - (Int64(parts - 1) * each) : each
  }
}

/// A steady-state training step, moment by moment: forward, backward, optimizer step, with the
/// optimizer state already allocated and the gradients freed by `zero_grad(set_to_none=True)`
/// before the step. The peak is the largest moment, not a sum of each part's maximum.
///
/// Bytes here are above the resident bytes (weights, adapters, optimizer state).
package struct StepProfile: Hashable, Sendable {
  /// What autograd holds at the end of forward (the model's parameters excluded).
  public let savedForBackward: ByteCount
  /// The largest moment of each phase, in step order.
  public let phases: [(name: StepPhase, bytes: ByteCount)]

  public static func == (a: StepProfile, b: StepProfile) -> Bool {
    a.savedForBackward == b.savedForBackward
      && a.phases.map(\.name) == b.phases.map(\.name) && a.phases.map(\.bytes) == b.phases.map(\.bytes)
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(savedForBackward)
    for phase in phases {
      hasher.combine(phase.name)
      hasher.combine(phase.bytes)
    }
  }

  /// The largest moment and its phase.
  public var peak: (name: StepPhase, bytes: ByteCount) {
    phases.max { $0.bytes < $1.bytes } ?? (.forward, .zero)
  }
}

/// The step's transient components and its profile.
///
/// Moments, each above the resident bytes:
/// - forward, in a layer: the kept activations, the rotary tables, autocast's weight cache, one
///   layer's tensors (recomputed later with checkpointing) and its largest transient, the
///   dequantized weight;
/// - forward, in the loss: the kept activations and the loss's forward moment (``LogitsAndLoss``);
/// - backward, in the loss: the kept activations and the loss's backward moment;
/// - backward, in a layer: ``BackwardMoment`` (block by block, in reverse);
/// - optimizer: what the loop holds, the gradients, the optimizer's temporaries, and what the
///   graph still references while the loss tensor lives.
struct StepPeak {
  let stack: StackActivations
  let loss: LogitsAndLoss
  let dequant: DequantBuffers
  let gradients: ByteCount
  /// When each gradient appears in backward.
  let gradientTiming: GradientTiming
  /// The key/value cache without checkpointing (zero with it): alive through forward, and
  /// through backward and the optimizer step when a plain loop keeps the output.
  let keyValueCache: ByteCount
  /// The rotary cos/sin tables, shared by every layer and alive for the whole step.
  let rotary: ByteCount
  /// Autocast's cached 16-bit copies of the fp32 trainable weights, alive through forward.
  let autocastCache: ByteCount
  /// Eager attention's 4-D causal mask.
  let causalMask: ByteCount
  let optimizerTemporaries: ByteCount
  /// What the autograd graph references after backward while the loss tensor is alive: with
  /// checkpointing, the input embeddings (a leaf made to require grad by
  /// `enable_input_require_grads`) and their gradient, and with reentrant checkpointing the
  /// arguments `CheckpointFunction` keeps in its context (rotary tables, causal mask).
  /// measure_step.py keeps `loss` through the optimizer step; HF Trainer returns `loss.detach()`
  /// first, so there this is an upper bound.
  let graphLeftovers: ByteCount
  /// Whether reentrant checkpointing keeps the rotary tables and the mask in the graph.
  let keepsCheckpointArguments: Bool
  /// What the previous step leaves alive through this step's forward when the loop rebinds its
  /// output only as the forward returns (``FrameworkModelCode/keepsPreviousStepThroughForward``):
  /// its logits, and through their graph the inputs its 4-bit matmuls keep
  /// (``FrameworkModelCode/fourBitMatmulKeepsInput``; backward released every saved variable,
  /// not those). Zero otherwise.
  let previousStep: ByteCount
  /// The forward moment at a quantized lm_head's dequantization: every logit computed so far (the
  /// chunks the loop keeps) beside the dequantized head; zero when lm_head is not 4-bit.
  let outputHeadMoment: ByteCount
  /// lm_head's dequantized weight at ``outputHeadMoment``.
  let outputHeadDequant: ByteCount
  /// Whether the 4-bit matmuls' kept inputs outlive backward (``FrameworkModelCode/fourBitMatmulKeepsInput``):
  /// each layer's from the end of its backward, lm_head's (the final norm's output, ``retainedHeadInput``)
  /// from the loss on, all of them through the optimizer step (``StackActivations/retainedAfterBackward``).
  let retainsMatmulInputs: Bool
  /// lm_head's kept input when ``retainsMatmulInputs`` and lm_head is 4-bit; zero otherwise.
  let retainedHeadInput: ByteCount
  let profile: StepProfile

  init(_ context: StepContext, adapted: LoRATargetSet, trainable: [TrainableTensorGroup], gradients: ByteCount) {
    stack = StackActivations(context, adapted: adapted)
    loss = LogitsAndLoss(context)
    dequant = DequantBuffers(context)
    self.gradients = gradients
    let model = context.model
    let setup = context.setup
    let plain = setup.trainingLoop == .plain
    let checkpointing = setup.usesGradientCheckpointing
    // Without checkpointing transformers keeps use_cache on: the output's DynamicCache holds
    // a copy (`torch.cat` in `DynamicLayer.update`) of every layer's k (after rotary) and v
    // (MLA: its compressed latent, ``ModelArchitecture/cachedKeyValueWidth``). A framework's own
    // model code (``FrameworkModelCode``) has no such cache in training.
    keyValueCache =
      checkpointing || setup.recipe.modelCode != nil
      ? .zero
      : model.layerCount
        * context.perToken(model.cachedKeyValueWidth, context.projectionOutput(input: context.normOutput))
    rotary = Self.rotaryTables(context)
    autocastCache = Self.autocastWeightCache(context, trainable)
    // Sharded, each GPU steps its own shard; with the optimizer on the host, none on the GPU.
    optimizerTemporaries = EngineSharding(setup: setup, model: model, trainable: trainable)
      .optimizerTemporariesOnGPU(platform: context.platform)
    // eager_mask materialises `b x 1 x s x s` in the embeddings' dtype; checkpointed layers
    // keep it (their recompute reads it) until the graph is freed. Gemma 2/3 alternate sliding-
    // window and full-attention layers and build one mask per type (modeling_gemma2.py
    // `causal_mask_mapping`; measured: out-of-sample `gemma-2-2b-s1024-b1-r16-gc-eager-plain`,
    // whose two-layer build holds two s x s masks).
    let maskTypes: Int64 =
      model.modelType.hasPrefix("gemma2") || model.modelType.hasPrefix("gemma3")
      ? min(2, model.layerCount) : 1
    causalMask =
      context.attention == .eager
      ? maskTypes
        * StepContext.bytes(setup.batchSize, setup.sequenceLength, setup.sequenceLength, width: context.embeddingOutput)
      : .zero
    // peft's prepare_model_for_kbit_training enables checkpointing without kwargs, which torch
    // runs reentrant (CheckpointFunction keeps its non-tensor arguments in ctx); transformers'
    // own gradient_checkpointing_enable() defaults to use_reentrant=False (modeling_utils.py
    // L3157), which keeps none.
    let reentrant = context.isQuantized
    keepsCheckpointArguments = checkpointing && reentrant
    graphLeftovers =
      checkpointing
      ? 2 * context.perToken(model.hiddenSize, context.embeddingOutput) + (reentrant ? rotary + causalMask : .zero)
      : .zero
    // Without checkpointing autograd saves autocast's weight casts too (lora_A/B's matmuls need
    // them for their inputs' gradients) until each layer's backward; checkpointed layers ran
    // forward without grad, so there the cache lives only until autocast exits.
    let savedCasts = checkpointing ? .zero : autocastCache
    let kept = stack.kept + rotary + causalMask + savedCasts
    // The cache is counted beside the saved tensors unless it is their storage.
    let cacheBeyondSaved = stack.savesCachedKeyValue ? .zero : keyValueCache
    let head = BaseWeights.outputHead(model, setup) ?? 0
    previousStep = Self.previousStep(context, stack: stack, loss: loss, quantizedHead: head > 0)
    retainsMatmulInputs =
      setup.recipe.modelCode?.fourBitMatmulKeepsInput == true && !LayerActivations.matmulKeptInputs(context).isEmpty
    retainedHeadInput = retainsMatmulInputs && head > 0 ? loss.lastHiddenState : .zero
    let duringForward = kept + cacheBeyondSaved + (autocastCache - savedCasts) + previousStep
    // One layer's forward: the larger of its blocks' moments (grad off with checkpointing, each
    // block's tensors alone; ``LayerActivations/forwardMoment``) and the dequantized weight.
    let forwardLayer = duringForward + stack.forwardMoment + dequant.bytes
    outputHeadDequant = StepContext.bytes(head, width: DequantBuffers.fourBitWidth(context))
    outputHeadMoment = head > 0 ? duringForward + loss.headMoment + outputHeadDequant : .zero
    let forward = max(forwardLayer, duringForward + loss.forwardMoment, outputHeadMoment)
    let held = loss.heldOutput + (plain ? keyValueCache : .zero)
    let heldBeyondSaved = plain ? cacheBeyondSaved : .zero
    // The loss's backward moment counts the held logits itself.
    let backwardLoss = kept + loss.backwardMoment + heldBeyondSaved + retainedHeadInput
    // Layer by layer in reverse: what the layers below still keep, the gradients of the layers
    // done (``GradientTiming``), and this layer's moment; the largest over the layers.
    let layers = Int(max(1, model.layerCount))
    let kinds = stack.layerKinds(count: layers, checkpointing: checkpointing)
    let keptParts = stack.keptParts(kinds, checkpointing: checkpointing)
    gradientTiming = GradientTiming(model: model, trainable: trainable, gradients: gradients)
    let outsideLayers = kept - stack.kept + loss.heldOutput + heldBeyondSaved
    var keptBelow = ByteCount.sum(keptParts)
    var gradientsAlive = ByteCount.sum(gradientTiming.beforeLayers)
    var backwardLayer = ByteCount.zero
    var retained = retainedHeadInput
    for index in stride(from: layers - 1, through: 0, by: -1) {
      gradientsAlive = gradientsAlive + ByteCount.sum(gradientTiming.perLayer[index])
      // The first layer sends out its input's gradient, in the embeddings' dtype.
      let moment = stack.backwardMoment(of: kinds[index])
      let narrowing = index == 0 ? moment.firstLayerNarrowing : .zero
      backwardLayer = max(
        backwardLayer, outsideLayers + keptBelow + gradientsAlive + retained + moment.bytes - narrowing)
      keptBelow = keptBelow - keptParts[index]
      if retainsMatmulInputs {
        retained = retained + ByteCount.sum(stack.retainedAfterBackward(kinds[index], first: index == 0))
      }
    }
    // The end of backward: every gradient, what the loop and the graph still hold, and a tied
    // embedding's out-of-place accumulation.
    // modules_to_save: an embedding copy's gradient comes last, beside the embedding output's
    // incoming gradient; the lm_head copy's fp32 gradient has its own moment beside the 16-bit
    // logits gradient (``SavedModuleCopies``, measured in Fixtures/modules-to-save-steps).
    let copiesLast = SavedModuleCopies.gradientsAfterTheLayers(trainable, onGPU: gradients) > .zero
    let endOfBackward =
      held + gradients + graphLeftovers + retained + gradientTiming.tiedEmbeddingAccumulation
      + (copiesLast ? context.perToken(model.hiddenSize, context.embeddingOutput) : .zero)
    let headGradient = SavedModuleCopies.headGradient(trainable)
    let backwardHead =
      headGradient > .zero
      ? kept + heldBeyondSaved + headGradient + context.perToken(model.vocabularySize, context.compute) : .zero
    let optimizer = held + gradients + optimizerTemporaries + graphLeftovers + retained
    profile = StepProfile(
      savedForBackward: (checkpointing ? stack.kept : stack.kept + rotary + savedCasts) + loss.saved,
      phases: [
        (.forward, forward), (.backward, max(backwardLoss, backwardLayer, endOfBackward, backwardHead)),
        (.optimizer, optimizer),
      ])
  }

  /// The previous step's tensors alive through this forward (``previousStep``): the logits the
  /// loop keeps and the inputs the 4-bit matmuls keep, every layer's (the first layer's attention
  /// input excepted: the embeddings do not require grad, so its matmuls keep nothing) and
  /// lm_head's (the final norm's output) when lm_head is 4-bit.
  static func previousStep(_ context: StepContext, stack: StackActivations, loss: LogitsAndLoss, quantizedHead: Bool)
    -> ByteCount
  {
    guard context.setup.recipe.modelCode?.keepsPreviousStepThroughForward == true else { return .zero }
    let keepsInputs = !LayerActivations.matmulKeptInputs(context).isEmpty
    let head = keepsInputs && quantizedHead ? loss.lastHiddenState : .zero
    return stack.keptByMatmul + head + loss.heldOutput
  }

  /// Rotary `cos` and `sin`, `b x s x rotary_dim` each, cast to the hidden states' dtype
  /// (transformers `LlamaRotaryEmbedding.forward`: `cos.to(dtype=x.dtype)`), one pair per rotary
  /// module; computed once per forward and read by every layer.
  static func rotaryTables(_ context: StepContext) -> ByteCount {
    guard case .rotary(let dimension, let count) = context.model.layout.positionEmbedding else { return .zero }
    return 2 * count * context.perToken(dimension, context.embeddingOutput)
  }

  /// Under `torch.autocast` the 16-bit casts of fp32 leaf tensors that require grad (the
  /// adapters, or an fp32 model's weights) are cached until autocast exits, so every one exists
  /// at once by the end of forward (PyTorch `aten/src/ATen/autocast_mode.cpp` `cached_cast`:
  /// `arg.is_leaf() && arg.requires_grad()`).
  static func autocastWeightCache(_ context: StepContext, _ trainable: [TrainableTensorGroup]) -> ByteCount {
    guard context.autocast else { return .zero }
    // peft reads an expert stack's adapters through reshapes (``ExpertAdapterWeights``): no leaf, no cache.
    let cast = trainable.lazy.filter {
      $0.dtype.byteWidth != context.compute && !SavedModuleCopies.isCopy($0) && !$0.isReadThroughViews
    }
    .reduce(Int64(0)) { $0 + $1.elements }
    return ByteCount.elements(cast, bytesEach: context.compute)
  }
}

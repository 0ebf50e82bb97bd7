/// The activations of one decoder layer, tensor by tensor: what it saves for backward and the
/// largest thing it holds for a moment in forward and in backward.
///
/// RMSNorm (`hs.float() * rsqrt(mean(hs^2) + eps)`, then `weight * hs.to(input_dtype)` with a
/// frozen weight) saves its fp32 input and the `tokens x 1` fp32 rsqrt (``StepContext/normSaved``). Projections, LoRA branches,
/// attention and MLP: see ``LoRABranch``, ``AttentionActivations``, ``FeedForwardActivations``;
/// a layer run through the framework's own kernels (Unsloth): ``FusedDecoderKernels``.
/// A LoRA branch that saves its input tensor itself shares it with every branch reading the
/// same tensor (q/k/v read one norm output): it is counted once.
///
/// Backward runs the layer in reverse, block by block (``BackwardMoment``): the MLP's backward
/// with every tensor of the layer saved, then attention's with only what the layer saved
/// before the MLP (the MLP's saved tensors are freed as its nodes run).
struct LayerActivations {
  let saved: [TensorTerm]
  /// What the layer saves up to the MLP: the first norm, attention and their LoRA branches.
  let attentionSaved: ByteCount
  /// What the layer saves only because its input requires grad: the first norm's fp32 copy and
  /// rsqrt, the dropout masks of the branches reading that norm's output, and LLM.int8's copy of
  /// that output when no LoRA branch keeps it (`MatMul8bitLt` saves nothing when neither its
  /// input nor its weight requires grad). The first decoder
  /// layer without checkpointing reads the embeddings, which do not require grad (nothing calls
  /// `enable_input_require_grads` then), so it saves none of it (measured: cpu-steps'
  /// no-checkpointing cases, whose one-layer builds save exactly this much less than the next layer).
  let savedForInputGradient: ByteCount
  /// Whether attention saves the key/value cache's own tensors (``AttentionActivations``).
  let savesCachedKeyValue: Bool
  /// The framework's own kernels the layer runs, or nil for transformers' layers.
  let fusedKernels: FusedDecoderKernels?
  /// The attention input among ``keptByMatmul``: the first layer's matmuls do not keep it.
  let attentionInputKeptByMatmul: ByteCount
  /// ``keptByMatmul`` tensor by tensor, the attention input's (when kept) first.
  let keptByMatmulParts: [ByteCount]
  /// The inputs the quantized matmuls keep in their nodes (``matmulKeptInputs``), saved or not
  /// by anything else: what the layer's graph holds after backward released its saved tensors.
  var keptByMatmul: ByteCount { ByteCount.sum(keptByMatmulParts) }
  /// The tensors of the largest forward temporary and of the largest backward temporary of the
  /// MLP block and of the attention block, one entry per tensor.
  let forwardTransients: [ByteCount]
  /// What a checkpointed forward (grad off) holds in each block at that block's largest moment,
  /// one entry per tensor; empty without checkpointing. Grad off, each intermediate dies after
  /// its last use, so the blocks' tensors are never alive together (``forwardMoment``).
  /// Attention's, beside ``forwardTransients``: at eager's score chain the first norm's output,
  /// q, k, v and their expanded copies (``AttentionActivations/checkpointedForwardWorking``);
  /// elsewhere attention's saved tensors but the score-sized ones.
  let checkpointedForwardAttention: [ByteCount]
  /// The MLP's: its saved tensors (the norm's, gate/up/act outputs, the LoRA inputs).
  let checkpointedForwardFeedForward: [ByteCount]
  /// The blocks' working sets apart, as a checkpointed forward allocates them in op order (grad
  /// off, attention's tensors die before the MLP's are made): the same as the moment's blocks
  /// where those are measured apart (eager); where the moment takes the whole working set as
  /// attention's (SDPA, flash-attention), the attention block's share of it and the MLP's.
  /// Empty without checkpointing.
  let checkpointedForwardBlocksInOpOrder: (attention: [ByteCount], feedForward: [ByteCount])
  /// The layer's forward moment without the dequantized weight: with checkpointing the larger of
  /// the blocks' (attention's working set and temporaries, a DoRA moment among them when it is the
  /// larger, or the MLP's working set); without, its temporary.
  var forwardMoment: ByteCount {
    max(ByteCount.sum(checkpointedForwardAttention) + forwardTransient, ByteCount.sum(checkpointedForwardFeedForward))
  }
  /// Whether attention's moment is the larger (and so the one the dequantized weight joins).
  var forwardMomentIsAttention: Bool {
    ByteCount.sum(checkpointedForwardAttention) + forwardTransient >= ByteCount.sum(checkpointedForwardFeedForward)
  }
  let feedForwardBackwardTransients: [ByteCount]
  let attentionBackwardTransients: [ByteCount]
  var forwardTransient: ByteCount { ByteCount.sum(forwardTransients) }
  var feedForwardBackwardTransient: ByteCount { ByteCount.sum(feedForwardBackwardTransients) }
  var attentionBackwardTransient: ByteCount { ByteCount.sum(attentionBackwardTransients) }
  var savedBytes: ByteCount { saved.total }
  /// The saved tensors up to the MLP (attention's block), then the MLP's.
  var attentionSavedTerms: ArraySlice<TensorTerm> { saved.prefix(attentionTermCount) }
  var feedForwardSavedTerms: ArraySlice<TensorTerm> { saved.dropFirst(attentionTermCount) }
  private let attentionTermCount: Int

  /// The dense layer, and the sparse (MoE) layer when the model has one.
  static func layers(_ context: StepContext, adapted: LoRATargetSet) -> (
    dense: LayerActivations, sparse: LayerActivations?
  ) {
    let dense = LayerActivations(context, adapted: adapted.modules, sparse: false)
    let sparse =
      (context.model.layout.mixtureOfExperts?.sparseLayerCount ?? 0) > 0
      ? LayerActivations(context, adapted: adapted.modules, experts: adapted.parameters, sparse: true) : nil
    return (dense, sparse)
  }

  /// The inputs the quantized matmuls keep for backward. LLM.int8: bitsandbytes 0.50.2
  /// `MatMul8bitLt.forward` stores `ctx.tensors = (CAt, subA, A)` whenever its input or weight
  /// requires grad, with `A` the input itself (`A.reshape(-1, in)`, a view; the fp16 cast it
  /// quantizes is a temporary) and `CAt` None for a frozen weight (the fast path quantizes A
  /// row-wise only). `subA`, A's outlier columns above `llm_int8_threshold`, depends on the data
  /// and is not counted. 4-bit: only with the bitsandbytes a recipe pinned before 0.44
  /// (``FrameworkModelCode/fourBitMatmulKeepsInput``, `ctx.tensors = (A, B)`). Every quantized
  /// projection of the layer keeps its input so, adapted or not.
  static func matmulKeptInputs(_ context: StepContext) -> Set<LinearModule.Input> {
    guard keeperName(context) != nil else { return [] }
    return Set(context.quantizedLinears.lazy.filter { $0.role == .projection }.map(\.input))
  }

  /// What keeps the quantized projections' inputs, or nil when nothing does.
  private static func keeperName(_ context: StepContext) -> String? {
    switch context.setup.effectiveQuantization {
    case .int8: return "LLM.int8's backward"
    case .nf4, .fp4:
      return context.setup.recipe.modelCode?.fourBitMatmulKeepsInput == true ? "MatMul4Bit's ctx.tensors" : nil
    case .none: return nil
    }
  }

  /// What LitGPT's fused q/k/v saves beyond separate projections
  /// (``FrameworkModelCode/fusedQueryKeyValue``): `zero_pad`'s `index_copy` source (the LoRA
  /// output over the adapted projections' widths, in lora_B's dtype) unless all of q, k and v are
  /// adapted, and, with as many key/value heads as query heads, the fused output's q and k parts,
  /// which v's view keeps (v itself is counted with attention).
  static func fusedQueryKeyValueTerms(_ context: StepContext, adapted: [LinearModule], projectionWidth: Int64)
    -> [TensorTerm]
  {
    let model = context.model
    let widths = adapted.filter { $0.input == .attentionInput && $0.role == .projection }.map(\.outFeatures)
    var terms: [TensorTerm] = []
    // All three adapted (q, k and v, or a config's own fused qkv_proj): zero_pad returns its input.
    if !widths.isEmpty && widths.reduce(0, +) < model.queryWidth + 2 * model.keyValueWidth {
      let loraWidth = context.autocast ? context.compute : context.adapter
      terms.append(
        TensorTerm("fused q/k/v LoRA: zero_pad's index_copy source", context.perToken(widths.reduce(0, +), loraWidth)))
    }
    if model.keyValueHeadCount == model.attentionHeadCount {
      terms.append(
        TensorTerm(
          "fused qkv output's q and k, kept by v's view",
          context.perToken(model.queryWidth + model.keyValueWidth, projectionWidth)))
    }
    return terms
  }

  private init(_ context: StepContext, adapted: [LinearModule], experts: [AdaptedParameter] = [], sparse: Bool) {
    let model = context.model
    let hidden = model.hiddenSize
    let n = context.normOutput
    var saved: [TensorTerm] = []
    let normCount = Int64(model.layout.normsPerLayer.count)
    // The norms before attention (one; Gemma 2/3 also normalise attention's output).
    let attentionNorms = normCount > 2 ? normCount / 2 : 1
    let checkpointing = context.setup.usesGradientCheckpointing
    let fused = FusedDecoderKernels(context, adapted: adapted, sparse: sparse)
    // The framework's RMSNorm keeps the layer input itself, which checkpointing keeps already.
    let attentionNorm =
      fused == nil
      ? TensorTerm("\(attentionNorms) attention norm(s): fp32 input + rsqrt", attentionNorms * context.normSaved)
      : TensorTerm(
        checkpointing
          ? "attention norm: fp32 rsqrt (its input is the kept layer input)" : "attention norm: input + fp32 rsqrt",
        FusedDecoderKernels.normSaved(context, inputKeptElsewhere: checkpointing))
    saved.append(attentionNorm)

    var masksOnNormOutput = ByteCount.zero
    // DoRA's per-module moments (``DoRAWorkingMemory``): the largest in forward (grad off in a
    // checkpointed forward), and with grad on per block (the recomputed forward in backward).
    let usesDoRA = context.setup.lora.usesDoRA
    var doraForward = ByteCount.zero
    var doraAttention = ByteCount.zero
    var doraFeedForward = ByteCount.zero
    // LLM.int8 (and 4-bit before bitsandbytes 0.44) keeps each quantized projection's input for
    // backward, adapted or not (``matmulKeptInputs``): one tensor per input, shared with the LoRA
    // branches reading it.
    let keptInputs = Self.matmulKeptInputs(context)
    let keeper = Self.keeperName(context) ?? ""
    var keptOnlyAttentionInput = ByteCount.zero
    // LitGPT's one LoRA module over the fused q/k/v output: one dropout for every adapted
    // projection reading the attention input (``FrameworkModelCode/fusedQueryKeyValue``).
    let fusedQKV = context.setup.recipe.modelCode?.fusedQueryKeyValue == true
    var fusedDropoutCounted = false
    var keptByMatmulParts: [ByteCount] = []
    var attentionInputKeptByMatmul = ByteCount.zero
    // LoRA on fused experts is no branch: peft merges it into the stack (``ExpertAdapterWeights``).
    func lora(
      _ slot: LinearModule.Input, input features: Int64, width: Int64, label: String, alreadySaved: Bool = false
    ) {
      // A fused LoRA function saves its input (shared) and nothing of its own.
      let fusedSlot = fused?.fuses(slot) == true
      var shared = false
      for module in adapted where module.input == slot && module.role == .projection {
        if fusedSlot {
          shared = true
          continue
        }
        let branch = LoRABranch(context, inFeatures: features, inputWidth: width)
        let sharesDropout = fusedQKV && slot == .attentionInput && fusedDropoutCounted
        fusedDropoutCounted = fusedDropoutCounted || (fusedQKV && slot == .attentionInput)
        saved += (sharesDropout ? [branch.product] : branch.own).map {
          TensorTerm("\(module.name) LoRA: \($0.name)", $0.bytes)
        }
        if usesDoRA {
          let dora = DoRAWorkingMemory(context, module: module, inputWidth: width)
          saved += dora.saved
          // Grad off, a checkpointed layer saves nothing: beside the residual stream only the
          // module's input and peft's cast of it are live at its DoRA moment.
          let input =
            context.perToken(features, width)
            + context.perToken(features, LoRABranch.castWidth(context, inputWidth: width))
          doraForward = max(doraForward, checkpointing ? dora.withoutGrad + input : dora.withGrad)
          if slot.isAttention {
            doraAttention = max(doraAttention, dora.withGrad)
          } else {
            doraFeedForward = max(doraFeedForward, dora.withGrad)
          }
        }
        if slot == .attentionInput && !sharesDropout { masksOnNormOutput = masksOnNormOutput + branch.mask }
        shared = shared || branch.savesSharedInput
      }
      let keptByMatmul = keptInputs.contains(slot)
      if keptByMatmul {
        let bytes = context.perToken(features, width)
        keptByMatmulParts.append(bytes)
        if slot == .attentionInput { attentionInputKeptByMatmul = bytes }
      }
      if (shared || keptByMatmul) && !alreadySaved {
        let branches = fusedSlot ? "the fused LoRA function" : "the LoRA branches"
        let readers = !keptByMatmul ? branches : shared ? "\(branches) and \(keeper)" : keeper
        saved.append(TensorTerm("\(label), kept for \(readers)", context.perToken(features, width)))
        if slot == .attentionInput && !shared { keptOnlyAttentionInput = context.perToken(features, width) }
      }
    }

    // Attention: q/k/v read the first norm's output.
    lora(.attentionInput, input: hidden, width: n, label: "attention input (norm output)")
    let projection = context.projectionOutput(input: n)
    let attention: AttentionActivations
    if let mla = model.latentAttention {
      // MLA: q_b_proj and kv_b_proj read the latent RMSNorms' outputs.
      attention = AttentionActivations(context, latent: mla, projectionWidth: projection)
      let latentWidth = AttentionActivations.latentNormWidth(context, projectionWidth: projection)
      if let rank = mla.queryRank { lora(.queryLatent, input: rank, width: latentWidth, label: "q_a_layernorm output") }
      lora(.keyValueLatent, input: mla.keyValueRank, width: latentWidth, label: "kv_a_layernorm output")
    } else {
      attention = AttentionActivations(context, projectionWidth: projection)
    }
    saved += attention.saved
    let scoreTerms = (saved.count - attention.scoreSavedCount)..<saved.count
    // LitGPT's o_proj reads a reshape copy of the attention output (``FrameworkModelCode``).
    lora(
      .attentionOutput, input: model.attentionOutputWidth, width: attention.outputWidth,
      label: fusedQKV ? "attention output's reshape copy (o_proj input)" : "attention output (o_proj input)",
      alreadySaved: attention.savesOutput && !fusedQKV)
    if fusedQKV && model.latentAttention == nil {
      saved += Self.fusedQueryKeyValueTerms(context, adapted: adapted, projectionWidth: projection)
    }

    let attentionSaved = saved.total
    let attentionEnd = saved.count
    // Zero-byte terms are dropped below; count the attention block's among the rest.
    let attentionTerms = saved.count(where: { $0.bytes > .zero })
    saved.append(
      fused == nil
        ? TensorTerm(
          "\(normCount - attentionNorms) MLP norm(s): fp32 input + rsqrt",
          (normCount - attentionNorms) * context.normSaved)
        : TensorTerm(
          "MLP norm: input (residual + attention output) + fp32 rsqrt",
          FusedDecoderKernels.normSaved(context, inputKeptElsewhere: false)))

    // MLP: gate/up read the second norm's output.
    var transient: [ByteCount] = []
    // The fused MLP's swiglu output, alive in forward beside what it saves (``FusedDecoderKernels``).
    var fusedForwardTransient: [ByteCount] = []
    lora(sparse ? .sparseInput : .feedForwardInput, input: hidden, width: n, label: "MLP input (norm output)")
    let mlpWidth = context.projectionOutput(input: n)
    if sparse, let moe = model.layout.mixtureOfExperts {
      if GroupedExperts.applies(context, moe) {
        let experts = GroupedExperts.activations(context, moe)
        saved += experts.saved
        transient = experts.transients
      } else {
        let experts = FeedForwardActivations.experts(context, moe, outputWidth: mlpWidth)
        saved += experts.saved
        transient = [experts.transient]
      }
      if !experts.isEmpty {
        saved += ExpertAdapterWeights.saved(context, experts, moe)
        transient = ExpertAdapterWeights.backwardTransients(context, experts, moe, activations: transient)
      }
      if moe.sharedExpertIntermediateSize > 0 {
        let shared = FeedForwardActivations(
          context, intermediate: moe.sharedExpertIntermediateSize, outputWidth: mlpWidth)
        saved += shared.saved.map { TensorTerm("shared expert: " + $0.name, $0.bytes) }
        lora(
          .sharedExpertIntermediate, input: moe.sharedExpertIntermediateSize, width: mlpWidth,
          label: "shared expert down input")
      }
    } else if fused?.fusesFeedForward == true {
      let intermediate = model.intermediateSize
      saved.append(FusedDecoderKernels.feedForwardSaved(context, intermediate: intermediate, outputWidth: mlpWidth))
      transient = [FusedDecoderKernels.feedForwardTransient(context, intermediate: intermediate, outputWidth: mlpWidth)]
      fusedForwardTransient = transient
    } else {
      let mlp = FeedForwardActivations(context, intermediate: model.intermediateSize, outputWidth: mlpWidth)
      saved += mlp.saved
      transient = mlp.backwardTransients
      lora(
        .feedForwardIntermediate, input: mlp.downInput.features, width: mlp.downInput.width, label: "down_proj input")
    }
    self.saved = saved.filter { $0.bytes > .zero }
    let working = saved.indices.filter { !scoreTerms.contains($0) && saved[$0].bytes > .zero }
    let attentionWorking =
      attention.checkpointedForwardWorking.map { [context.perToken(hidden, n)] + $0 }
      ?? working.filter { $0 < attentionEnd }.flatMap { saved[$0].parts }
    let feedForwardWorking = working.filter { $0 >= attentionEnd }.flatMap { saved[$0].parts } + fusedForwardTransient
    self.attentionSaved = attentionSaved
    // The first norm's saved tensors (one norm's, however many precede attention).
    let firstNorm = fused == nil ? context.normSaved : attentionNorm.bytes
    savedForInputGradient = firstNorm + masksOnNormOutput + keptOnlyAttentionInput
    savesCachedKeyValue = attention.savesCachedKeyValue
    fusedKernels = fused
    self.keptByMatmulParts = keptByMatmulParts
    self.attentionInputKeptByMatmul = attentionInputKeptByMatmul
    attentionTermCount = attentionTerms
    // A DoRA moment stands in for a block's temporary and dequantized weight (counted beside
    // the transient) when it is the larger; with checkpointing the recomputed forward's moment
    // is in backward, on top of the recomputed layer.
    func larger(_ transients: [ByteCount], dora: ByteCount, beside dequant: ByteCount) -> [ByteCount] {
      dora > ByteCount.sum(transients) + dequant ? [dora - dequant] : transients
    }
    let dequant = DequantBuffers(context).bytes
    if !checkpointing {
      checkpointedForwardAttention = []
      checkpointedForwardFeedForward = []
      checkpointedForwardBlocksInOpOrder = ([], [])
      let attentionTransients = larger(attention.forwardTransients, dora: doraForward, beside: dequant)
      forwardTransients =
        ByteCount.sum(fusedForwardTransient) > ByteCount.sum(attentionTransients)
        ? fusedForwardTransient : attentionTransients
    } else {
      // Grad off: each block's tensors beside the dequantized weight; DoRA's moment, when it is
      // the larger, stands in for attention's temporaries, net of attention's working set.
      // Without a score chain (SDPA, flash-attention) the blocks' moments are not measured apart:
      // the layer's whole working set is taken as attention's, the former upper bound.
      let measuredApart = attention.checkpointedForwardWorking != nil
      checkpointedForwardAttention = measuredApart ? attentionWorking : attentionWorking + feedForwardWorking
      checkpointedForwardFeedForward = measuredApart ? feedForwardWorking : []
      checkpointedForwardBlocksInOpOrder = (attentionWorking, feedForwardWorking)
      let chain = attention.checkpointedForwardTransients
      let attentionBytes = ByteCount.sum(checkpointedForwardAttention)
      let blocks = max(attentionBytes + ByteCount.sum(chain), ByteCount.sum(checkpointedForwardFeedForward))
      forwardTransients = doraForward > blocks + dequant ? [doraForward - dequant - attentionBytes] : chain
    }
    feedForwardBackwardTransients =
      checkpointing
      ? larger(transient, dora: doraFeedForward, beside: DequantBuffers.largest(context) { !$0.input.isAttention })
      : transient
    attentionBackwardTransients =
      checkpointing
      ? larger(
        attention.backwardTransients, dora: doraAttention,
        beside: DequantBuffers.largest(context) { $0.input.isAttention })
      : attention.backwardTransients
  }
}

/// Activations of the whole decoder stack, with and without gradient checkpointing.
///
/// Without checkpointing every layer keeps what it saves until its backward. With it
/// (transformers `GradientCheckpointingLayer`, reentrant or not) each layer keeps only its input
/// (`tokens x hidden` in the residual dtype); during backward one layer at a time is recomputed,
/// so that layer's saved tensors and its backward transients exist on top of the kept inputs.
/// Reentrant and non-reentrant checkpointing keep the same tensors here: the layer input (and the
/// shared rotary cos/sin); they differ in when the recomputed tensors are freed within the layer,
/// which the one-layer term already bounds.
struct StackActivations {
  /// Bytes held across the step until backward reaches each layer.
  let kept: ByteCount
  /// With checkpointing, how much less the first layer's kept input is than the others'
  /// (the embeddings' output beside an fp32 stream); zero otherwise.
  private let firstInputNarrowing: ByteCount
  /// The largest recomputed layer (checkpointing) or zero.
  let recomputedLayer: ByteCount
  /// The tensors of the forward temporary of the layer kind with the larger forward moment.
  var forwardTransients: [ByteCount] { forwardLayer.forwardTransients }
  var forwardTransient: ByteCount { ByteCount.sum(forwardTransients) }
  /// The dense layer and the sparse (MoE) one, with how many of each the stack has.
  let dense: LayerActivations
  let sparse: LayerActivations?
  let sparseCount: Int64
  /// The layer kind whose forward moment (working set and temporaries) is the larger.
  private let forwardLayer: LayerActivations
  /// The blocks' working sets of a checkpointed forward layer (the kind with the larger forward
  /// moment), empty without checkpointing (``LayerActivations/checkpointedForwardAttention``).
  var forwardAttentionWorkingSet: [ByteCount] { forwardLayer.checkpointedForwardAttention }
  var forwardFeedForwardWorkingSet: [ByteCount] { forwardLayer.checkpointedForwardFeedForward }
  /// The same layer's blocks in op order, for a checkpointed layer that does not hold the moment
  /// (``LayerActivations/checkpointedForwardBlocksInOpOrder``).
  var forwardBlocksInOpOrder: (attention: [ByteCount], feedForward: [ByteCount]) {
    forwardLayer.checkpointedForwardBlocksInOpOrder
  }
  /// A forward layer's moment above the bytes kept during forward, without the dequantized weight.
  var forwardMoment: ByteCount { forwardLayer.forwardMoment }
  /// Whether the forward moment is attention's (the dequantized weight joins that block).
  var forwardMomentIsAttention: Bool { forwardLayer.forwardMomentIsAttention }
  /// The layer kind whose backward moment is the larger.
  let backwardLayer: LayerActivations
  /// Whether every layer's attention saves the key/value cache's own tensors.
  let savesCachedKeyValue: Bool
  /// What the quantized matmuls of every layer keep in their nodes
  /// (``LayerActivations/keptByMatmul``), the first layer's attention input excepted.
  var keptByMatmul: ByteCount {
    let first = sparseCount == layerCount ? layer(.sparse) : dense
    return (layerCount - sparseCount) * dense.keptByMatmul + sparseCount * (sparse?.keptByMatmul ?? .zero)
      - first.attentionInputKeptByMatmul
  }
  /// What a layer's 4-bit matmuls keep in their nodes after its backward
  /// (``FrameworkModelCode/fourBitMatmulKeepsInput``: an attribute, not a saved variable, so
  /// backward does not release it), tensor by tensor; the first layer's attention input is not
  /// kept (the embeddings need no gradient). Empty unless the recipe's matmuls keep them.
  func retainedAfterBackward(_ kind: Kind, first: Bool) -> [ByteCount] {
    let layer = layer(kind)
    guard first, layer.attentionInputKeptByMatmul > .zero else { return layer.keptByMatmulParts }
    return Array(layer.keptByMatmulParts.dropFirst())
  }

  /// The layer backward moment above the kept bytes, walked block by block (``BackwardMoment``):
  /// the larger kind's, and each kind's.
  let backwardMoment: BackwardMoment
  private let denseMoment: BackwardMoment
  private let sparseMoment: BackwardMoment?
  let terms: [TensorTerm]
  /// Layer inputs held in pinned host memory when the recipe offloads them (Unsloth): every
  /// checkpointed input but the last layer's, of more than 2 MiB, stored as bf16 when it is fp32.
  let offloadedToHost: ByteCount
  /// What the formula text needs; the text itself is built only when read.
  private let perLayer: [TensorTerm]
  private let largest: ByteCount
  let layerCount: Int64
  private let residualWidth: Int64
  private let embeddingWidth: Int64
  private let checkpointing: Bool
  private let offloads: Bool

  /// Unsloth's threshold: a checkpointed input of at most 2 MiB stays on the GPU (MINIMUM_SIZE).
  static let offloadMinimumBytes = ByteCount.mebibytes(2)

  /// The layer inputs on the GPU when the recipe offloads them (Unsloth): the last layer's input
  /// is never offloaded, and backward copies each input back into one or two reusable GPU
  /// buffers, so at most 3 inputs; inputs of at most 2 MiB stay on the GPU. As a formula that
  /// never decreases with the input size (the planner bisects):
  /// `min(L x input, max(3 x input, L x 2 MiB))`, exact below the threshold and at most
  /// `L x 2 MiB` high just above it. Source: unsloth_zoo gradient_checkpointing.py
  /// (UnslothCheckpointFunction), docs/recipes.md section 3.
  static func keptOnGPUWithOffload(input: ByteCount, layers: Int64) -> ByteCount {
    min(layers * input, max(3 * input, layers * offloadMinimumBytes))
  }

  init(_ context: StepContext, adapted: LoRATargetSet) {
    let model = context.model
    let layers = LayerActivations.layers(context, adapted: adapted)
    let sparseCount = layers.sparse == nil ? 0 : (model.layout.mixtureOfExperts?.sparseLayerCount ?? 0)
    let denseCount = model.layerCount - sparseCount
    let largest = max(layers.dense.savedBytes, layers.sparse?.savedBytes ?? .zero)
    let checkpoints = context.setup.usesGradientCheckpointing
    forwardLayer =
      layers.sparse.map { $0.forwardMoment > layers.dense.forwardMoment ? $0 : layers.dense }
      ?? layers.dense
    dense = layers.dense
    sparse = layers.sparse
    self.sparseCount = sparseCount
    savesCachedKeyValue = layers.dense.savesCachedKeyValue && layers.sparse?.savesCachedKeyValue != false
    let denseMoment = BackwardMoment(context, layer: layers.dense, recomputed: checkpoints)
    let sparseMoment = layers.sparse.map { BackwardMoment(context, layer: $0, recomputed: checkpoints) }
    self.denseMoment = denseMoment
    self.sparseMoment = sparseMoment
    backwardMoment = sparseMoment.map { $0.bytes > denseMoment.bytes ? $0 : denseMoment } ?? denseMoment
    backwardLayer =
      sparseMoment.map { $0.bytes > denseMoment.bytes } == true ? layers.sparse ?? layers.dense : layers.dense
    perLayer = layers.dense.saved
    self.largest = largest
    layerCount = model.layerCount
    residualWidth = context.stream
    embeddingWidth = context.embeddingOutput
    checkpointing = context.setup.usesGradientCheckpointing
    offloads = context.setup.recipe.offloadsCheckpointInputs
    // Gemma 3n's AltUp stack and per-layer inputs (``Gemma3nActivations``); nothing elsewhere.
    let modelLevel = Gemma3nActivations.modelLevelSaved(context, adapted: adapted.modules)
    if context.setup.usesGradientCheckpointing {
      let input =
        context.perToken(model.hiddenSize, context.stream) + Gemma3nActivations.extraKeptPerLayer(context)
      // The first layer's input is the embeddings' output, narrower than the stream after it
      // when the stream turns fp32 (``StepContext/stream``).
      firstInputNarrowing =
        offloads ? .zero : context.perToken(model.hiddenSize, context.stream - context.embeddingOutput)
      let inputs =
        offloads
        ? Self.keptOnGPUWithOffload(input: input, layers: model.layerCount)
        : model.layerCount * input - firstInputNarrowing
      kept = inputs + modelLevel.total
      let stored = context.perToken(model.hiddenSize, min(context.stream, 2))
      offloadedToHost =
        offloads && input > Self.offloadMinimumBytes ? (model.layerCount - 1) * stored : .zero
      recomputedLayer = largest
      terms = [TensorTerm("kept layer inputs", inputs)] + modelLevel + [TensorTerm("one recomputed layer", largest)]
    } else {
      let first = denseCount == 0 ? layers.sparse ?? layers.dense : layers.dense
      let layersSaved =
        denseCount * layers.dense.savedBytes + sparseCount * (layers.sparse?.savedBytes ?? .zero)
        - first.savedForInputGradient
      kept = layersSaved + modelLevel.total
      firstInputNarrowing = .zero
      offloadedToHost = .zero
      recomputedLayer = .zero
      terms = [TensorTerm("every layer's saved tensors", layersSaved)] + modelLevel
    }
  }

  /// A decoder layer's kind: dense MLP or sparse (MoE).
  enum Kind { case dense, sparse }

  func layer(_ kind: Kind) -> LayerActivations { kind == .sparse ? sparse ?? dense : dense }

  /// The backward moment of a layer of `kind`, above the kept bytes.
  func backwardMoment(of kind: Kind) -> BackwardMoment { kind == .sparse ? sparseMoment ?? denseMoment : denseMoment }

  /// The layer kinds in the order forward walks them (index 0 first).
  func layerKinds(count: Int, checkpointing: Bool) -> [Kind] {
    guard sparse != nil else { return Array(repeating: .dense, count: count) }
    let sparseCount = Int(self.sparseCount)
    let denseCount = count - sparseCount
    // The kind with the larger backward moment goes last (first in backward).
    let larger: Kind = (sparseMoment?.bytes ?? .zero) > denseMoment.bytes ? .sparse : .dense
    var kinds: [Kind] =
      larger == .sparse
      ? Array(repeating: .dense, count: denseCount) + Array(repeating: .sparse, count: sparseCount)
      : Array(repeating: .sparse, count: sparseCount) + Array(repeating: .dense, count: denseCount)
    // The estimate's backward moment is the larger of the two kinds' even when the stack has
    // none of that kind (an all-sparse MoE stack beside its dense MLP size): a recomputed layer
    // holds nothing between layers, so the first one walked in backward may take its shape.
    if checkpointing, !kinds.isEmpty { kinds[kinds.count - 1] = larger }
    return kinds
  }

  /// What each layer of `kinds` keeps until its backward: its input with checkpointing (the
  /// kept inputs split evenly, the first layer's narrower by ``firstInputNarrowing``), else its
  /// saved tensors (the first layer's less what it saves only for its input's gradient).
  func keptParts(_ kinds: [Kind], checkpointing: Bool) -> [ByteCount] {
    if checkpointing {
      var parts = StepSchedule.split(kept + firstInputNarrowing, kinds.count)
      parts[0] = parts[0] - firstInputNarrowing
      return parts
    }
    return kinds.enumerated().map { index, kind in
      layer(kind).savedBytes - (index == 0 ? layer(kind).savedForInputGradient : .zero)
    }
  }

  var formula: String {
    let perLayer = perLayer.map { "\($0.name) \(NumberText.grouped($0.bytes.bytes))" }.joined(separator: "; ")
    if checkpointing && offloads {
      return
        "checkpointing with the layer inputs offloaded to host memory (Unsloth): on the GPU min(\(layerCount) x input, "
        + "max(3 x input, \(layerCount) x 2 MiB)) with input = b*s*h*\(residualWidth) B: \(NumberText.grouped(kept.bytes)) "
        + "+ one recomputed layer \(NumberText.grouped(largest.bytes)) [\(perLayer)]"
    }
    if checkpointing && firstInputNarrowing > .zero {
      return "checkpointing: the first layer's input (the embeddings' output) b*s*h*\(embeddingWidth) B + "
        + "\(layerCount - 1) layer inputs x b*s*h*\(residualWidth) B (the stream turns fp32 at the first MLP) = "
        + "\(NumberText.grouped(kept.bytes)) + one recomputed layer \(NumberText.grouped(largest.bytes)) [\(perLayer)]"
    }
    if checkpointing {
      return "checkpointing: \(layerCount) layer inputs x b*s*h*\(residualWidth) B = "
        + "\(NumberText.grouped(kept.bytes)) + one recomputed layer \(NumberText.grouped(largest.bytes)) [\(perLayer)]"
    }
    return "no checkpointing: \(layerCount) layers x saved per layer \(NumberText.grouped(largest.bytes)) [\(perLayer)]"
  }
}

/// What self-attention saves for backward, and what it holds for a moment, by implementation.
///
/// q, k, v arrive in the projections' output dtype `p` (fp32 when the residual stream is fp32:
/// bitsandbytes casts its output back to the input dtype). Rotary embedding saves only the shared
/// cos/sin tables (`q * cos + rotate_half(q) * sin`; the multipliers do not require grad), so it
/// adds nothing per layer. Per-head q/k norms (Qwen3, Gemma 3) save their inputs.
/// - `sdpa`: under autocast SDPA runs in the compute dtype (autocast casts q, k, v); it saves
///   q, k, v, the output and the log-sum-exp (`b x heads x s` fp32). Keys and values are expanded
///   to every head (`repeat_kv`) unless the kernel takes grouped-query attention natively:
///   transformers passes `enable_gqa=True` when there is no mask and `head_dim <= 256`
///   (`integrations/sdpa_attention.py` `use_gqa_in_sdpa`, L42-51; HF training without padding
///   passes no mask: `masking_utils.py` `sdpa_mask` skips a purely causal one), and the CPU kernel
///   (`_scaled_dot_product_flash_attention_for_cpu`) then saves the unexpanded k and v (measured:
///   cpu-steps' GQA cases). On CUDA the estimate keeps the expanded copies: PyTorch's
///   memory-efficient kernel, the one pre-Ampere GPUs run, takes no GQA (`sdp_utils.cpp`
///   `check_grouped_query_attention`), and fitcheck's T4 runs report the "GQA expand shim".
///   The output is returned as a transposed view of a `b x s x heads x d` buffer, so the
///   `transpose(1, 2).contiguous()` before o_proj copies nothing: o_proj's input is the saved
///   output (counted once, see ``LayerActivations``); not on CPU after Phi-3's `cat` rotary.
/// - `flash`: flash-attention 2 casts q, k, v to the compute dtype, supports GQA natively, and
///   saves q, k, v, the output and the log-sum-exp.
/// - `xformers` (Unsloth's own layers, ``Recipe/ownLayerAttention``): unsloth `run_attention` copies
///   k and v to every query head under grouped-query attention (`expand` then `reshape`, as the
///   hidden states require grad), and xformers' `_fMHA` saves q, those copies, the output and the
///   log-sum-exp, in the projections' dtype (no autocast cast); the unexpanded k and v stay alive
///   through the forward. Backward as SDPA's (its cutlass operator is PyTorch's memory-efficient
///   kernel). docs/estimation.md, "Unsloth's attention".
/// - `eager`: `softmax(q k^T * scale + mask, dtype=float32)` then `probs @ v`. Saves q, the
///   expanded k and v, the fp32 probabilities (`b x heads x s x s x 4`) and, when the second
///   matmul runs in another dtype (autocast, or a 16-bit query), the probabilities' cast copy.
///   The forward holds scores and masked scores for a moment. Backward, beside the saved
///   probabilities, `_softmax_backward_data` writes its result next to the incoming fp32
///   gradient; each node's inputs are released once it has run. Per platform:
///   CPU: 8 B per score element at that moment whatever the input dtype (measured:
///   Tests/Calibration/measured/softmax-backward-cpu.json); CUDA: one more fp32
///   score-sized temporary (12 B with fp32 scores), which fitcheck-t4's eager TinyLlama runs at
///   1,024 and 2,048 tokens need (3.2-3.6 B per score element above 8 B). The causal mask (`b x s x s` in the hidden states' dtype,
///   transformers `masking_utils.py` `eager_mask`) lives through the step (``StepPeak``).
/// Sources: transformers 5.23 `integrations/sdpa_attention.py`, `modeling_llama.py`
/// `eager_attention_forward`; PyTorch derivatives.yaml (`_softmax`, `bmm`, `_scaled_dot_product_*`).
/// Checked: the eager layer of cpu-steps `qwen2.5-0.5b-s512-b1-r8qv-nogc-eager-plain`.
struct AttentionActivations {
  let saved: [TensorTerm]
  /// The tensors of the largest forward and backward moments, one entry per tensor (the
  /// allocation schedule allocates them one by one; their sums are the moments).
  let forwardTransients: [ByteCount]
  let backwardTransients: [ByteCount]
  /// A checkpointed forward (grad off) saves nothing: eager's score-sized tensors
  /// (`q k^T`, `* scale`, softcapping, `+ mask`, the fp32 softmax, its cast) each die once the
  /// next is made, so its moment is the largest two neighbours of that chain, and the saved
  /// probabilities are not held beside them (the allocator study's recorded sequence of
  /// fitcheck-t4's TinyLlama eager at 2,048 tokens: two 1 GiB fp32 score tensors at a time).
  let checkpointedForwardTransients: [ByteCount]
  /// What else a checkpointed forward holds at eager's score moment, one entry per tensor: q, k
  /// and v after rotary, in the projections' dtype (autocast's casts for `q k^T` die with the
  /// matmul), and with grouped-query attention k and v expanded to every head (`repeat_kv`; the
  /// caller still references the unexpanded ones). Nil where no score moment exists (SDPA,
  /// flash-attention): there the attention block's saved tensors stand in (``LayerActivations``).
  /// Measured: the checkpointed forwards of Tests/Calibration/measured/forward-steps.json.
  let checkpointedForwardWorking: [ByteCount]?
  /// How many of the last saved tensors are of score size (the probabilities, their cast,
  /// Gemma-2's tanh output).
  let scoreSavedCount: Int
  var forwardTransient: ByteCount { ByteCount.sum(forwardTransients) }
  var backwardTransient: ByteCount { ByteCount.sum(backwardTransients) }
  /// The dtype width of the attention output that o_proj reads.
  let outputWidth: Int64
  /// Whether the kernel saves the tensor o_proj reads (SDPA and flash-attention: their output).
  let savesOutput: Bool
  /// Whether the k and v it saves are the projections' own tensors (not expanded, not cast):
  /// then they are the storage transformers' DynamicCache returns (`DynamicLayer.update` hands the
  /// attention the cached `torch.cat` result), and the cache adds nothing while they are saved.
  let savesCachedKeyValue: Bool

  init(_ context: StepContext, projectionWidth p: Int64) {
    let model = context.model
    let heads = model.attentionHeadCount
    let queryWidth = model.queryWidth
    let batch = context.setup.batchSize
    let seq = context.setup.sequenceLength
    var saved: [TensorTerm] = []
    switch model.layout.queryKeyNorm {
    case .none: break
    case .perHead, .perProjection:
      saved.append(TensorTerm("q/k norm inputs", context.perToken(queryWidth + model.keyValueWidth, p)))
      // Unsloth's qwen3 runs q_norm and k_norm as `fast_rms_layernorm` on the `b x s x heads x d`
      // views (unsloth models/qwen3.py): `Fast_RMS_Layernorm` also saves its fp32 rsqrt, one per row,
      // that is per head and token.
      if FusedDecoderKernels.runs(context) {
        saved.append(
          TensorTerm(
            "q/k norms' fp32 rsqrt per head (Unsloth's RMSNorm)",
            context.perToken(heads + model.keyValueHeadCount, 4)))
      }
    }
    let logSumExp = StepContext.bytes(batch, heads, seq, width: 4)
    switch context.attention {
    case .sdpa:
      let a = context.autocast ? context.compute : p
      let native = context.platform == .cpu && model.headDimension <= 256
      let kv = native ? model.keyValueWidth : queryWidth
      saved.append(TensorTerm("q", context.perToken(queryWidth, a)))
      saved.append(
        TensorTerm(
          native ? "k, v (grouped-query attention native)" : "k, v expanded to every head", 2 * context.perToken(kv, a),
          tensors: 2))
      saved.append(TensorTerm("attention output", context.perToken(queryWidth, a)))
      saved.append(TensorTerm("log-sum-exp", logSumExp))
      forwardTransients = []
      checkpointedForwardTransients = []
      scoreSavedCount = 0
      checkpointedForwardWorking = nil
      backwardTransients = Array(repeating: context.perToken(queryWidth, a), count: 4)
      outputWidth = a
    case .xformers:
      // xformers takes q, k and v as they come (no autocast cast): the projections' dtype.
      let a = p
      let grouped = model.keyValueHeadCount != heads
      let unexpandedKeyValue = Array(repeating: context.perToken(model.keyValueWidth, a), count: 2)
      saved.append(TensorTerm("q", context.perToken(queryWidth, a)))
      saved.append(
        TensorTerm(
          grouped ? "k, v copied to every query head (Unsloth's expand + reshape for xformers)" : "k, v",
          2 * context.perToken(grouped ? queryWidth : model.keyValueWidth, a), tensors: 2))
      saved.append(TensorTerm("attention output", context.perToken(queryWidth, a)))
      saved.append(TensorTerm("log-sum-exp", logSumExp))
      // The unexpanded k and v stay referenced by the attention forward's locals until it returns.
      forwardTransients = grouped ? unexpandedKeyValue : []
      checkpointedForwardTransients = forwardTransients
      scoreSavedCount = 0
      checkpointedForwardWorking = nil
      backwardTransients = Array(repeating: context.perToken(queryWidth, a), count: 4)
      outputWidth = a
    case .flash:
      let a = context.compute
      saved.append(TensorTerm("q", context.perToken(queryWidth, a)))
      saved.append(TensorTerm("k, v (GQA native)", 2 * context.perToken(model.keyValueWidth, a), tensors: 2))
      saved.append(TensorTerm("attention output", context.perToken(queryWidth, a)))
      saved.append(TensorTerm("log-sum-exp", logSumExp))
      forwardTransients = []
      checkpointedForwardTransients = []
      scoreSavedCount = 0
      checkpointedForwardWorking = nil
      backwardTransients = [
        context.perToken(queryWidth, a), context.perToken(queryWidth, a),
        context.perToken(model.keyValueWidth, a), context.perToken(model.keyValueWidth, a),
      ]
      outputWidth = a
    case .eager:
      let a = context.autocast ? context.compute : p
      let scores = a
      let masked = max(scores, context.embeddingOutput)
      let square = StepContext.bytes(batch, heads, seq, seq, width: 1)
      saved.append(TensorTerm("q, expanded k and v", 3 * context.perToken(queryWidth, a), tensors: 3))
      let softcaps = model.modelType == "gemma2"
      // Gemma-2's attn_logit_softcapping (`scores / cap`, `tanh`, `* cap`, transformers
      // modeling_gemma2.py eager_attention_forward): tanh saves its output.
      if softcaps {
        saved.append(TensorTerm("softcapped scores' tanh output (Gemma-2)", scores * square))
      }
      saved.append(TensorTerm("softmax probabilities (fp32)", 4 * square))
      let probabilitiesCopy: Int64 = context.autocast ? context.compute : p != 4 ? p : 0
      if probabilitiesCopy > 0 {
        let label = context.autocast ? "probabilities cast for probs @ v" : "probabilities cast to the query dtype"
        saved.append(TensorTerm(label, probabilitiesCopy * square))
      }
      scoreSavedCount = (softcaps ? 1 : 0) + 1 + (context.autocast || p != 4 ? 1 : 0)
      forwardTransients = [scores * square, masked * square]
      // The chain in element widths: matmul, scaling, softcapping's three, mask, softmax, cast.
      // Each op holds its input beside its output.
      let chain: [Int64] =
        [scores, scores] + (softcaps ? [scores, scores, scores] : []) + [masked, 4] + (a == 4 ? [] : [a])
      let first = chain.indices.dropLast().max { chain[$0] + chain[$0 + 1] < chain[$1] + chain[$1 + 1] } ?? 0
      var chainMoment = [chain[first], chain[first + 1]]
      // `softmax(x, dtype=float32)` on a 16-bit input converts it to an fp32 copy before the
      // kernel (ATen's `softmax`; CUDA's fused fp16 -> fp32 kernel excepted): the input, the copy
      // and the result at once (held out: SmolLM2-360M bf16 eager at 4,096 tokens without
      // autocast, its checkpointed forward's peak in `aten::_softmax`).
      let fusedHalf = context.platform == .cuda && context.setup.computeDtype.tensorDtype == .float16
      if masked != 4 && !fusedHalf && masked + 8 > chainMoment.reduce(0, +) {
        chainMoment = [masked, 4, 4]
      }
      // `scores + mask` with a mask wider than the scores (16-bit scores under autocast beside an
      // fp32 mask): the CPU's TensorIterator first copies the scores to the common dtype
      // (`promote_inputs_to_common_dtype`; CUDA casts inside the kernel): the scores, the copy
      // and the sum at once (held out: SmolLM2-360M NF4 eager at 4,096 tokens under autocast,
      // its checkpointed forward's peak in `aten::add`).
      if context.platform == .cpu && masked != scores && scores + 2 * masked > chainMoment.reduce(0, +) {
        chainMoment = [scores, masked, masked]
      }
      checkpointedForwardTransients = chainMoment.map { $0 * square }
      let expanded = model.keyValueHeadCount == heads ? [] : Array(repeating: context.perToken(queryWidth, p), count: 2)
      checkpointedForwardWorking =
        [context.perToken(queryWidth, p)] + Array(repeating: context.perToken(model.keyValueWidth, p), count: 2)
        + expanded
      // Backward, node by node (the saved probabilities are counted above): probs @ v's backward
      // makes the probabilities' gradient in the matmul dtype, ToCopyBackward its fp32 copy when
      // the probabilities were cast; softmax's backward writes the masked scores' gradient
      // beside the fp32 one; the scaling's backward makes the scores' gradient beside that.
      let cast: Int64 = a == 4 ? 0 : 4
      // Softmax's backward: the incoming fp32 gradient, its result and, on CUDA, one more fp32
      // temporary; on the CPU 8 B per element at that moment.
      let softmaxBackward: [Int64] = context.platform == .cuda ? [4, masked, 4] : [4, max(masked, 4)]
      // The cast probabilities are saved by probs @ v alone, so its node releases them
      // (`Node::release_variables` after `apply`) before ToCopyBackward and softmax's backward
      // run: those moments hold every saved tensor but that copy.
      let moments: [[Int64]] = [[a, cast], softmaxBackward, [masked, scores]].map {
        Self.net($0, released: probabilitiesCopy)
      }
      let largest = moments.max { $0.reduce(0, +) < $1.reduce(0, +) } ?? []
      backwardTransients = largest.filter { $0 > 0 }.map { $0 * square }
      outputWidth = a
    }
    self.saved = saved
    // The CPU kernel allocates its output like the query (`empty_like`): in the projection's
    // `b x s x heads x d` layout after an elementwise rotary, so o_proj's `transpose(1, 2)
    // .contiguous()` copies nothing; Phi-3's rotary ends in `torch.cat` (modeling_phi3.py
    // `apply_rotary_pos_emb`), a contiguous `b x heads x s x d` query, so there o_proj reads a copy
    // (measured: Tests/Calibration/measured/sdpa-output-layout-cpu.json; the out-of-sample phi-3 step is
    // one `T x q x 4` per layer short without it). CUDA's kernels
    // return `b x s x heads x d` outputs.
    let copiedForOutput = context.platform == .cpu && model.layout.rotaryEndsInConcatenation
    savesOutput = context.attention != .eager && !copiedForOutput
    let unexpanded: Bool
    switch context.attention {
    case .sdpa: unexpanded = context.platform == .cpu && model.headDimension <= 256 || model.keyValueHeadCount == heads
    case .eager: unexpanded = model.keyValueHeadCount == heads
    case .flash: unexpanded = true
    case .xformers: unexpanded = model.keyValueHeadCount == heads
    }
    let kernelWidth: Int64
    switch context.attention {
    case .flash: kernelWidth = context.compute
    case .xformers: kernelWidth = p
    case .sdpa, .eager: kernelWidth = context.autocast ? context.compute : p
    }
    savesCachedKeyValue = unexpanded && kernelWidth == p
  }

  /// A backward moment's tensors (bytes per score element) net of `released` bytes of saved
  /// tensors freed before it: a tensor of the freed size takes the freed block (the caching
  /// allocator hands it back), otherwise the largest tensors shrink by the freed bytes.
  static func net(_ tensors: [Int64], released: Int64) -> [Int64] {
    guard released > 0 else { return tensors }
    var tensors = tensors
    if let same = tensors.firstIndex(of: released) {
      tensors.remove(at: same)
      return tensors
    }
    var left = released
    for index in tensors.indices.sorted(by: { tensors[$0] > tensors[$1] }) where left > 0 {
      let taken = min(left, tensors[index])
      tensors[index] -= taken
      left -= taken
    }
    return tensors
  }
}

/// What DeepSeek-V3's multi-head latent attention (MLA) saves for backward, and the moments it holds.
///
/// `DeepseekV3Attention.forward` (transformers 5.25.0 `modeling_deepseek_v3.py`), for `T` tokens,
/// `H` heads, projections whose output is `p` bytes wide:
/// - `q_a_proj` -> `q_a_layernorm` -> `q_b_proj` (or one `q_proj`); `kv_a_proj_with_mqa` -> split
///   into the latent and the shared rotary key -> `kv_a_layernorm` over the latent. Each latent
///   RMSNorm saves its fp32 input and a `T x 1` rsqrt like the hidden-size norms
///   (``StepContext/normSaved``): with fp32 projections (`p` = 4) the input is the projection's
///   own output, and the kv latent is a view of `kv_a_proj_with_mqa`'s whole `T x (kv_lora_rank +
///   qk_rope)` storage; else an fp32 copy of the latent alone.
/// - Rotary multiplies by the shared cos/sin tables only; the query is `torch.cat((q_pass,
///   q_rot))` and the key a `new_empty` filled by `copy_` (`expand_kv`), both `T x H x (nope +
///   rope)`, contiguous in `b x H x s x d`; the value is a view of `kv_b_proj`'s `T x H x (nope +
///   v)` output. None of these is saved by the rotary or the copies.
/// - CPU SDPA: its flash kernel needs one head width for q, k and v, so with `nope + rope != v`
///   PyTorch runs the math fallback (`_scaled_dot_product_attention_math`), in fp32 whatever the
///   inputs (it upcasts 16-bit ones), untouched by CPU autocast: it saves the scaled q and k, the
///   `b x H x s x s` fp32 probabilities and a contiguous v, no output and no log-sum-exp; its
///   output (the projections' dtype) is copied for `o_proj` (measured: the MLA steps' attention
///   saves `(b H) x s x 96`, `(b H) x 96 x s`, `b x H x s x s` and `(b H) x s x 64` fp32 tensors).
/// - CUDA SDPA under autocast casts q, k, v (copies, saved) unless they already are the compute dtype;
///   then it saves the query, the key and the value's whole `kv_b_proj` storage. It saves its
///   output (`T x H x v`) and log-sum-exp. The CPU kernel lays the output out like the
///   contiguous query, so `transpose(1, 2).contiguous()` copies it for `o_proj` (as after
///   Phi-3's `cat` rotary, ``AttentionActivations``); CUDA's kernels return `b x s x H x d`.
/// - The key/value cache (no checkpointing) holds the compressed latent, not k and v
///   (``ModelArchitecture/cachedKeyValueWidth``); nothing attention saves is the cache's own.
/// Eager attention's score-sized tensors are the standard ones (its probabilities depend on
/// heads and sequence only); only its q, k and v differ, as above.
/// Checked: the MLA steps in Tests/QLoRABudgetTests/Fixtures/mla-steps (measured, CPU).
extension AttentionActivations {
  /// The width of a latent RMSNorm's output: its weight times the input (`weight *
  /// hs.to(input_dtype)`), the wider of the projection's output and the norms' dtype.
  static func latentNormWidth(_ context: StepContext, projectionWidth p: Int64) -> Int64 {
    max(p, context.normOutput)
  }

  init(_ context: StepContext, latent mla: LatentAttention, projectionWidth p: Int64) {
    let model = context.model
    let heads = model.attentionHeadCount
    let queryKey = model.queryWidth
    let value = model.attentionOutputWidth
    let batch = context.setup.batchSize
    let seq = context.setup.sequenceLength
    let rsqrt = context.perToken(1, 4)
    var saved: [TensorTerm] = []
    if let rank = mla.queryRank {
      saved.append(TensorTerm("q_a_layernorm: fp32 input + rsqrt", context.perToken(rank, 4) + rsqrt))
    }
    let keyValueNormInput = p == 4 ? mla.compressedWidth : mla.keyValueRank
    saved.append(TensorTerm("kv_a_layernorm: fp32 input + rsqrt", context.perToken(keyValueNormInput, 4) + rsqrt))
    let attention = context.attention
    let a = attention == .flash ? context.compute : (context.autocast ? context.compute : p)
    let valueStorage = a == p ? heads * (mla.unrotatedHeadDimension + mla.valueHeadDimension) : value
    let queryKeyValue = [
      TensorTerm("q (nope + rope per head)", context.perToken(queryKey, a)),
      TensorTerm("k (nope + rope per head)", context.perToken(queryKey, a)),
      TensorTerm(a == p ? "v, a view of kv_b_proj's output" : "v cast", context.perToken(valueStorage, a)),
    ]
    let square = StepContext.bytes(batch, heads, seq, seq, width: 1)
    let mathFallback =
      attention == .sdpa && context.platform == .cpu
      && mla.queryKeyHeadDimension != mla.valueHeadDimension
    switch attention {
    case .sdpa where mathFallback:
      saved += [
        TensorTerm("q, scaled (fp32, SDPA's math fallback)", context.perToken(queryKey, 4)),
        TensorTerm("k, scaled (fp32)", context.perToken(queryKey, 4)),
        TensorTerm("v, contiguous (fp32)", context.perToken(value, 4)),
        TensorTerm("softmax probabilities (fp32)", 4 * square),
      ]
      // The scores before the softmax; in backward the probabilities' gradient and softmax's result.
      forwardTransients = [4 * square]
      // Without grad the scores and the probabilities made from them are alive together.
      checkpointedForwardTransients = [4 * square, 4 * square]
      checkpointedForwardWorking = nil
      scoreSavedCount = 1
      backwardTransients = [4 * square, 4 * square]
    // xformers never reaches MLA: only the recipe's own layers run it (``TrainingSetup/attention(for:)``).
    case .sdpa, .flash, .xformers:
      saved += queryKeyValue
      saved.append(TensorTerm("attention output", context.perToken(value, a)))
      saved.append(TensorTerm("log-sum-exp", StepContext.bytes(batch, heads, seq, width: 4)))
      forwardTransients = []
      checkpointedForwardTransients = []
      checkpointedForwardWorking = nil
      scoreSavedCount = 0
      backwardTransients = [
        context.perToken(queryKey, a), context.perToken(queryKey, a), context.perToken(value, a),
        context.perToken(value, a),
      ]
    case .eager:
      // The standard eager walk's first term is its q, expanded k and v; the rest are score-sized.
      let standard = AttentionActivations(context, projectionWidth: p)
      saved += queryKeyValue + standard.saved.dropFirst()
      forwardTransients = standard.forwardTransients
      checkpointedForwardTransients = standard.checkpointedForwardTransients
      // MLA's q, k and v are not the standard walk's: its saved tensors stand in.
      checkpointedForwardWorking = nil
      scoreSavedCount = standard.scoreSavedCount
      backwardTransients = standard.backwardTransients
    }
    self.saved = saved
    outputWidth = mathFallback ? p : a
    savesOutput = attention != .eager && context.platform == .cuda
    savesCachedKeyValue = false
  }
}

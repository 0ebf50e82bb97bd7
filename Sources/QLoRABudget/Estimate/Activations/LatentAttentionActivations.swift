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
/// - SDPA under autocast casts q, k, v (copies, saved) unless they already are the compute dtype;
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
    let attention = context.setup.attention
    let a = attention == .flash ? context.compute : (context.autocast ? context.compute : p)
    let valueStorage = a == p ? heads * (mla.unrotatedHeadDimension + mla.valueHeadDimension) : value
    let queryKeyValue = [
      TensorTerm("q (nope + rope per head)", context.perToken(queryKey, a)),
      TensorTerm("k (nope + rope per head)", context.perToken(queryKey, a)),
      TensorTerm(a == p ? "v, a view of kv_b_proj's output" : "v cast", context.perToken(valueStorage, a)),
    ]
    switch attention {
    case .sdpa, .flash:
      saved += queryKeyValue
      saved.append(TensorTerm("attention output", context.perToken(value, a)))
      saved.append(TensorTerm("log-sum-exp", StepContext.bytes(batch, heads, seq, width: 4)))
      forwardTransients = []
      backwardTransients = [
        context.perToken(queryKey, a), context.perToken(queryKey, a), context.perToken(value, a), context.perToken(value, a),
      ]
    case .eager:
      // The standard eager walk's first term is its q, expanded k and v; the rest are score-sized.
      let standard = AttentionActivations(context, projectionWidth: p)
      saved += queryKeyValue + standard.saved.dropFirst()
      forwardTransients = standard.forwardTransients
      backwardTransients = standard.backwardTransients
    }
    self.saved = saved
    outputWidth = a
    savesOutput = attention != .eager && context.platform == .cuda
    savesCachedKeyValue = false
  }
}

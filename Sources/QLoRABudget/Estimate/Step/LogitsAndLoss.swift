/// The final norm, lm_head's logits and the cross-entropy loss, per loss implementation and loop.
///
/// Standard loss (transformers `ForCausalLMLoss`):
/// - The final norm saves its fp32 input (``StepContext/normSaved``; Unsloth's its input as it is,
///   ``FusedDecoderKernels``); its output
///   (`last_hidden_state`, `tokens x hidden`) stays referenced until the model's forward returns,
///   so it is live during the loss, which runs inside that forward.
/// - Under autocast, lm_head's weight (fp32 after prepare_model_for_kbit_training) is cast to the
///   compute dtype and that copy (`vocab x hidden`) is saved for backward (autocast caches casts
///   only for leaf tensors that require grad; lm_head is frozen, so the mm saves the copy).
/// - Logits are `tokens x vocab` in the compute dtype under autocast, else in the hidden dtype.
/// - Gemma-2's and Gemma 3n's `final_logit_softcapping` (`logits / cap`, `tanh`, `* cap`, transformers
///   `modeling_gemma2.py` `Gemma2ForCausalLM.forward`, `modeling_gemma3n.py` alike) makes vocabulary-sized tensors: tanh saves
///   its output for backward, and the divided logits exist beside it for a moment.
/// - `logits.float()` (a fp32 copy unless already fp32), then `cross_entropy` = `log_softmax`
///   (its fp32 output is saved) + `nll_loss` (saves the int64 labels; ForCausalLMLoss pads them).
/// - Backward: `nll_loss` makes a `tokens x vocab` fp32 gradient, `log_softmax`'s backward
///   another, next to the saved log-probabilities.
/// - The loop (``TrainingLoop``): HF Trainer keeps only the loss, so the logits die when the
///   forward returns; a plain loop keeps `out.logits` (their own dtype) through backward and the
///   optimizer step.
///
/// The fp32-logits loss (``LossKind/fp32Logits``, transformers <= 4.45) runs the same operations
/// with the upcast done by the model: `logits.float()` is what the forward returns (`tokens x
/// vocab` fp32, which a plain loop holds), the 16-bit lm_head output is freed at the rebinding
/// (the cast saves nothing for backward), and `logits[..., :-1, :].contiguous()` is a second fp32
/// copy, freed when the forward returns, that takes the upcast's place (counted over every token:
/// one position short of it). Backward: the same two fp32 gradients, nll_loss's and
/// log_softmax's (the shift's slice gradients come after them, below that moment).
///
/// Two transients below the moments that only the allocator sees (``headOutput``,
/// ``backwardCopies``), as transformers 4.45.2's MistralForCausalLM on torch 2.4.1 makes them
/// (recorded on the meta device, docs/estimation.md, "The schedule": the loss's transients):
/// - The fp32-logits loss's lm_head output in the compute dtype (`self.lm_head(...).float()`): the
///   upcast copies it and it is freed at once, leaving a block of its size cached while the
///   fp32 tensors, each larger, cannot use it.
/// - After log-softmax's backward (its saved output and the incoming gradient freed), autograd
///   makes one gradient per view or cast between the loss and lm_head, each beside the one
///   before it: the fp32-logits loss's shift `logits[..., :-1, :]` is two slices, whose
///   backwards each write a zero-filled fp32 gradient (the shifted shape, then every token), and
///   the upcast's backward (`ToCopyBackward`) a gradient in the logits' own dtype, live until
///   lm_head's backward has made its input gradient. The standard loss's upcast makes the last
///   one only.
///
/// Chunked losses (``ChunkedLoss``) never hold the full logits; the loss's gradient with respect
/// to the final norm's output is computed during forward and saved (`tokens x hidden`):
/// - Liger's fused linear cross-entropy runs lm_head and the loss over `chunk_size` tokens at a
///   time, `chunk_size = next_power_of_2(ceil(BT / ceil(V / H)))`, the gradient written in place
///   into the chunk's logits (`tokens x vocab` in the matmul dtype), plus `grad_input =
///   zeros_like(_input)` and an fp32 loss per token. Source: liger_kernel
///   `ops/fused_linear_cross_entropy.py` `fused_linear_cross_entropy_forward`.
/// - Unsloth counts 16 B per logit (`_CE_BYTES_PER_LOGIT`) against a per-chunk budget of
///   `min(free / 2, 4 GiB)` (`_auto_target_gb_from`: the device's free memory read when the loss
///   runs, ``StepContext/lossChunkBudget``), less the input gradient it allocates whatever the
///   chunking (`fixed_gb`, when smaller than the budget), and splits the tokens into a multiple of
///   4 chunks (`get_chunk_size`), each of `ceil(tokens / chunks)` tokens (``unslothChunks(tokens:
///   vocabulary:fixed:budget:)``). When the whole loss fits one chunk, that chunk runs the
///   standard loss's operations on every token, so it is counted as the standard loss. Sources:
///   unsloth/models/llama.py CausalLM_fast_forward, unsloth_zoo/fused_losses/cross_entropy_loss.py
///   (docs/recipes.md section 3).
/// A chunked loss never counts more than the standard loss of the same setup: when its chunk
/// and saved gradient come to no less than the standard loss's largest moment (Unsloth with a
/// single chunk runs the standard operations on every token), the standard tensors are counted.
struct LogitsAndLoss {
  let finalNorm: ByteCount
  let lastHiddenState: ByteCount
  let weightCopy: ByteCount
  let logits: ByteCount
  /// Gemma-2's saved tanh output (zero elsewhere).
  let softcap: ByteCount
  let upcast: ByteCount
  let logProbabilities: ByteCount
  let gradient: ByteCount
  let labels: ByteCount
  /// The logits a plain loop keeps referenced through backward and the optimizer step.
  let heldOutput: ByteCount
  let implementation: ChunkedLoss?
  let logitsWidth: Int64
  /// The model returns fp32 logits and `upcast` is the loss's shifted copy (``LossKind/fp32Logits``).
  let fp32Output: Bool
  let tokens: Int64
  /// The fp32-logits loss's lm_head output in the compute dtype, freed once `logits.float()` has
  /// copied it (zero otherwise).
  let headOutput: ByteCount
  /// The gradients backward makes after log-softmax's, in order, each beside the one before
  /// it (the standard loss's and the fp32-logits loss's; empty for a chunked loss).
  let backwardCopies: [ByteCount]
  /// A chunked loss's moment: one chunk (zero for the standard loss).
  let chunk: ByteCount
  /// The gradient with respect to the final norm's output a fused chunked loss saves.
  let inputGradient: ByteCount
  /// How the tokens are chunked when the loss is `tokenChunks` (torchtune, LitGPT, TRL); nil
  /// for a fused loss and the standard one.
  let tokenChunking: TokenChunking?
  /// Unsloth's fused loss: its chunk count and the budget it was sized to (nil otherwise).
  let unslothChunking: (chunks: Int64, budget: ByteCount)?

  /// Unsloth's largest per-chunk budget (`_CE_CAP_MIN_GB`, 4 GiB), also its budget when the
  /// device's free memory cannot be read (no GPU given here).
  static let unslothChunkCap = ByteCount.gibibytes(4)
  /// Unsloth's `_CE_BYTES_PER_LOGIT`: bytes per token x vocabulary element while a chunk runs.
  static let unslothBytesPerLogit: Int64 = 16

  /// How many chunks Unsloth's fused loss splits `tokens` into (`get_chunk_size`): one when the
  /// whole loss (`tokens x vocabulary x 16 B`) fits the budget less the `fixed` bytes no
  /// chunking shrinks (only when those are smaller than the budget), else the whole over that
  /// target rounded up to a multiple of 4, at most one token a chunk. No budget at all (no
  /// free memory) is one token a chunk: the run is out of memory before its loss anyway.
  static func unslothChunks(tokens: Int64, vocabulary: Int64, fixed: ByteCount, budget: ByteCount) -> Int64 {
    let whole = StepContext.bytes(tokens, vocabulary, width: unslothBytesPerLogit)
    let target = fixed > .zero && fixed < budget ? budget - fixed : budget
    guard whole > target else { return 1 }
    guard target > .zero, !whole.isOverflow else { return max(tokens, 1) }
    let quarters = whole.bytes / (4 * target.bytes) + (whole.bytes % (4 * target.bytes) == 0 ? 0 : 1)
    return min(4 * quarters, max(tokens, 1))
  }

  init(_ context: StepContext) {
    let model = context.model
    let vocabulary = model.vocabularySize
    let setup = context.setup
    // Unsloth's final norm keeps its 16-bit input, not an fp32 copy (``FusedDecoderKernels``).
    finalNorm =
      FusedDecoderKernels.runs(context)
      ? FusedDecoderKernels.normSaved(context, inputKeptElsewhere: false) : context.normSaved
    lastHiddenState = context.perToken(model.hiddenSize, context.normOutput)
    labels = context.perToken(1, 8)
    let width = context.autocast ? context.compute : context.normOutput
    fp32Output = setup.effectiveLoss == .fp32Logits
    logitsWidth = fp32Output ? 4 : width
    tokens = context.tokens
    weightCopy =
      context.autocast && context.lmHead != context.compute
      ? StepContext.bytes(vocabulary, model.hiddenSize, width: context.compute) : .zero
    let standard = Standard(context, width: width, logitsWidth: logitsWidth, fp32Output: fp32Output)
    let plain = setup.trainingLoop == .plain
    if case .tokenChunks(let chunking) = setup.lossImplementation {
      // torchtune / LitGPT / TRL: every chunk's log-softmax stays saved (TRL checkpoints each
      // chunk instead); one chunk's logits (and their fp32 upcast) exist at a time in forward,
      // one chunk's two gradients in backward. LitGPT's loop keeps the list of logit chunks.
      let chunkTokens = chunking.chunkTokens(context.tokens)
      let probabilityWidth: Int64 = chunking.float32LogProbabilities ? 4 : width
      implementation = setup.lossImplementation
      tokenChunking = chunking
      let inFlight =
        (chunking.keepsLogits ? 0 : width) + (probabilityWidth == width ? 0 : 4)
        + (chunking.checkpointsChunks ? probabilityWidth : 0)
      logits = chunking.keepsLogits ? context.perToken(vocabulary, width) : .zero
      softcap = .zero
      chunk = StepContext.bytes(chunkTokens, vocabulary, width: inFlight)
      upcast = .zero
      logProbabilities = chunking.checkpointsChunks ? .zero : context.perToken(vocabulary, probabilityWidth)
      gradient = StepContext.bytes(chunkTokens, vocabulary, width: probabilityWidth)
      heldOutput = logits
      inputGradient = .zero
      unslothChunking = nil
      headOutput = .zero
      backwardCopies = []
    } else if let fused = setup.lossImplementation.flatMap({ Self.chunkMoment($0, context, width: width) }),
      fused.moment + fused.inputGradient < standard.largestMoment(keepingLogits: plain)
    {
      implementation = setup.lossImplementation
      tokenChunking = nil
      logits = .zero
      softcap = .zero
      upcast = .zero
      logProbabilities = .zero
      gradient = .zero
      heldOutput = .zero
      chunk = fused.moment
      inputGradient = fused.inputGradient
      unslothChunking = fused.unslothChunks.map { ($0, context.lossChunkBudget) }
      headOutput = .zero
      backwardCopies = []
    } else {
      implementation = nil
      tokenChunking = nil
      logits = standard.logits
      softcap = standard.softcap
      upcast = standard.upcast
      logProbabilities = standard.logProbabilities
      gradient = standard.gradient
      heldOutput = plain ? standard.logits : .zero
      chunk = .zero
      inputGradient = .zero
      unslothChunking = nil
      headOutput = standard.headOutput
      backwardCopies = standard.backwardCopies
    }
  }

  /// The standard loss's tensors.
  private struct Standard {
    let logits, softcap, upcast, logProbabilities, gradient, headOutput: ByteCount
    let backwardCopies: [ByteCount]
    /// The larger of the forward and backward moments (the tensors both share excluded).
    func largestMoment(keepingLogits: Bool) -> ByteCount {
      max(
        logits + softcap + upcast + logProbabilities,
        softcap + logProbabilities + 2 * gradient + (keepingLogits ? logits : .zero))
    }

    /// `fp32Output`: the model returns the upcast logits (`logitsWidth` 4) and the loss shifts
    /// them with a copy (``LossKind/fp32Logits``).
    init(_ context: StepContext, width: Int64, logitsWidth: Int64, fp32Output: Bool) {
      logits = context.perToken(context.model.vocabularySize, logitsWidth)
      softcap = ["gemma2", "gemma3n_text"].contains(context.model.modelType) ? logits : .zero
      upcast = width == 4 && !fp32Output ? .zero : context.perToken(context.model.vocabularySize, 4)
      logProbabilities = context.perToken(context.model.vocabularySize, 4)
      gradient = logProbabilities
      // The upcast's gradient in the dtype it was cast from (none when the logits are fp32 already).
      let cast = width == 4 ? [ByteCount]() : [context.perToken(context.model.vocabularySize, width)]
      headOutput = fp32Output ? cast.first ?? .zero : .zero
      // The fp32-logits loss's shift first: its two slices (`[..., :-1, :]`: the trailing `:`, then
      // the `:-1`), counted over every token as the shifted copy is.
      backwardCopies = (fp32Output ? [gradient, logits] : []) + cast
    }
  }

  /// One chunk's live bytes and the saved input gradient of a fused chunked loss (nil for a
  /// token-chunked one).
  private static func chunkMoment(_ loss: ChunkedLoss, _ context: StepContext, width: Int64) -> (
    moment: ByteCount, inputGradient: ByteCount, unslothChunks: Int64?
  )? {
    let vocabulary = context.model.vocabularySize
    let hidden = context.model.hiddenSize
    let inputGradient = context.perToken(hidden, context.normOutput)
    switch loss {
    case .liger:
      let increase = (vocabulary + hidden - 1) / hidden
      let rows = min(context.tokens, nextPowerOfTwo((context.tokens + increase - 1) / increase))
      let logits = StepContext.bytes(rows, vocabulary, width: width)
      return (logits + context.perToken(1, 4), inputGradient, nil)
    case .unsloth:
      let chunks = unslothChunks(
        tokens: context.tokens, vocabulary: vocabulary, fixed: inputGradient, budget: context.lossChunkBudget)
      let chunkTokens = context.tokens / chunks + (context.tokens % chunks == 0 ? 0 : 1)
      return (
        StepContext.bytes(chunkTokens, vocabulary, width: unslothBytesPerLogit) + context.perToken(1, 4), inputGradient,
        chunks
      )
    case .tokenChunks:
      return nil
    }
  }

  private static func nextPowerOfTwo(_ value: Int64) -> Int64 {
    var power: Int64 = 1
    while power < value, power < Int64.max / 2 { power *= 2 }
    return power
  }

  var isChunked: Bool { implementation != nil }

  /// A fused loss (Liger, Unsloth): lm_head and the loss run together, chunk by chunk.
  var isFused: Bool { isChunked && tokenChunking == nil }

  /// What autograd holds for the loss at the end of forward.
  var saved: ByteCount { finalNorm + weightCopy + softcap + logProbabilities + labels + inputGradient }

  /// The loss's forward moment: logits, their softcapped and fp32 copies and the
  /// log-probabilities together (chunked: the saved input gradient and one chunk).
  var forwardMoment: ByteCount {
    finalNorm + lastHiddenState + weightCopy + logits + softcap + upcast + logProbabilities + labels + inputGradient
      + chunk
  }

  /// What exists at lm_head's last chunk, before the loss runs: the final norm's saved input
  /// and output, every logit, the labels (the moment a 4-bit lm_head's dequantized weight joins).
  var headMoment: ByteCount { finalNorm + lastHiddenState + weightCopy + labels + logits }

  /// The loss's backward moment: log-probabilities and two gradients, the softcap's saved
  /// output and what the loop holds (chunked: the saved input gradient).
  var backwardMoment: ByteCount {
    isFused
      ? finalNorm + weightCopy + inputGradient
      : finalNorm + weightCopy + softcap + logProbabilities + 2 * gradient + heldOutput + labels
        + (tokenChunking?.checkpointsChunks == true ? chunk : .zero)
  }

  var formula: String {
    let g = NumberText.grouped
    if let chunking = tokenChunking {
      return "cross-entropy over token chunks of \(g(chunking.chunkTokens(tokens))) tokens: "
        + (logits > .zero ? "logit chunks kept b*s*V*\(logitsWidth) B = \(g(logits.bytes)); " : "")
        + (chunk > .zero ? "one chunk's logits in flight \(g(chunk.bytes)); " : "")
        + (chunking.checkpointsChunks
          ? "each chunk checkpointed (recomputed in backward); "
          : "every chunk's log-softmax saved \(g(logProbabilities.bytes)); ")
        + "backward: 2 gradients of one chunk \(g(gradient.bytes)); "
        + "final norm input \(g(finalNorm.bytes))"
    }
    if let implementation {
      let sizing = unslothChunking.map { chunking in
        "\(g(chunking.chunks)) chunks of \(g(tokens / chunking.chunks + (tokens % chunking.chunks == 0 ? 0 : 1))) "
          + "tokens at \(Self.unslothBytesPerLogit) B a logit (within \(g(chunking.budget.bytes)): half the memory free "
          + "when the loss first runs, at most \(g(Self.unslothChunkCap.bytes)), less the input gradient); "
      }
      return "\(implementation.label) chunked cross-entropy: full logits never materialised; " + (sizing ?? "")
        + "one chunk \(g(chunk.bytes)) + the saved gradient of the final norm's output \(g(inputGradient.bytes)); "
        + "final norm input \(g(finalNorm.bytes))"
    }
    return "logits b*s*V*\(logitsWidth) B = \(g(logits.bytes))"
      + (softcap > .zero ? " + softcapping tanh output \(g(softcap.bytes)) (saved)" : "")
      + (upcast > .zero
        ? (fp32Output ? " (the model's fp32 upcast) + shifted fp32 copy " : " + fp32 upcast ") + g(upcast.bytes) : "")
      + " + log-softmax fp32 \(g(logProbabilities.bytes)) (saved); backward: 2 fp32 gradients of \(g(gradient.bytes))"
      + (heldOutput > .zero ? "; the plain loop keeps the logits through backward" : "")
      + (weightCopy > .zero ? "; lm_head weight cast by autocast \(g(weightCopy.bytes)) (saved)" : "")
      + "; final norm input \(g(finalNorm.bytes)) and output \(g(lastHiddenState.bytes))"
  }
}

/// The final norm, lm_head's logits and the cross-entropy loss.
///
/// - lm_head reads the final norm's output; the norm saves its input (`tokens x hidden`).
/// - Under autocast, lm_head's weight (fp32 after prepare_model_for_kbit_training) is cast to
///   the compute dtype and that copy (`vocab x hidden`) is saved for backward (autocast caches
///   casts only for leaf tensors that require grad; lm_head is frozen).
/// - Logits are `tokens x vocab` in the compute dtype under autocast, else in the hidden dtype.
/// - transformers' `ForCausalLMLoss` does `logits.float()` (a fp32 copy unless already fp32),
///   pads the labels instead of shifting the logits, then `cross_entropy` = `log_softmax` (its
///   fp32 output is saved) + `nll_loss` (saves the int64 labels).
/// - Backward: `nll_loss` makes a `tokens x vocab` fp32 gradient, `log_softmax`'s backward
///   another, next to the saved log-probabilities.
/// - A plain loop keeps the output (`out = model(...)`), so logits already in fp32 are the loss
///   input and stay live through backward; cpu-step-peaks.json's autocast cases show the
///   compute-dtype logits are not live at the loss-backward moment (their peak is the forward's).
/// - HF Trainer under bf16: accelerate's `convert_outputs_to_fp32` makes one more fp32 copy of
///   the logits after the loss's upcast is freed: the same size at a later moment, so the peak
///   does not change.
/// - Chunked cross-entropy (Unsloth's fused loss, `--loss chunked`): the full logits are never
///   materialised (Unsloth returns `EMPTY_LOGITS`); lm_head and the loss run over chunks of
///   tokens, each chunk holding at most `min(b*s*V*16 B, 4 GiB)`: Unsloth sizes chunks at 16 B
///   per logit (bf16 logits + fp32 upcast + saved log-softmax + gradient) with a target of
///   `min(free/2, 4 GiB)`, so 4 GiB bounds a chunk from above on any GPU. (The total is split
///   into `ceil(total / target)` equal chunks, so a real chunk lies between half the target and
///   the target; the bound keeps the estimate monotone in tokens, which the planners' bisection
///   needs, and errs on the safe side.) One log-sum-exp per token is kept. Sources: unsloth/models/llama.py CausalLM_fast_forward (L2083-2140),
///   unsloth_zoo/fused_losses/cross_entropy_loss.py (`_CE_BYTES_PER_LOGIT = 16.0`,
///   `_CE_TARGET_GB_CAP = 4.0`, L225-300), read in the 2026.10.9 wheels (docs/recipes.md §3).
/// Sources: transformers 5.23 `loss/loss_utils.py` L51-73, `modeling_llama.py` L466-472;
/// accelerate 1.15 `utils/operations.py` L889-948; PyTorch derivatives.yaml (`_log_softmax`,
/// `nll_loss`); unsloth_zoo `cross_entropy_loss.py`; docs/recipes.md §8.
struct LogitsAndLoss {
  let finalNorm: ByteCount
  let weightCopy: ByteCount
  let logits: ByteCount
  let upcast: ByteCount
  let logProbabilities: ByteCount
  let gradient: ByteCount
  let labels: ByteCount
  /// Logits that stay live through backward (they are the loss's input).
  let heldInBackward: ByteCount
  let isChunked: Bool
  let logitsWidth: Int64
  let tokens: Int64
  /// One chunk of the chunked loss (zero for the standard loss).
  let chunk: ByteCount
  /// How the tokens are chunked when the recipe's chunked loss is `tokenChunks` (torchtune,
  /// LitGPT); nil for the fused loss and the standard one.
  let tokenChunking: TokenChunking?

  /// The largest chunk of Unsloth's fused cross-entropy: its `_CE_TARGET_GB_CAP` (4 GiB).
  static let chunkCap = ByteCount.gibibytes(4)
  /// Unsloth's `_CE_BYTES_PER_LOGIT`: bytes per token x vocabulary element while a chunk runs.
  static let chunkBytesPerLogit: Int64 = 16

  init(_ context: StepContext) {
    let model = context.model
    let vocabulary = model.vocabularySize
    finalNorm = context.perToken(model.hiddenSize, context.residual) + context.perToken(1, 4)
    labels = context.perToken(1, 8)
    isChunked = context.setup.usesChunkedCrossEntropy
    let width = context.autocast ? context.compute : context.normOutput
    logitsWidth = width
    tokens = context.tokens
    weightCopy = context.autocast && context.lmHead != context.compute
      ? StepContext.bytes(vocabulary, model.hiddenSize, width: context.compute) : .zero
    if isChunked, case .tokenChunks(let chunking) = context.setup.recipe.chunkedLoss {
      // torchtune / LitGPT: every chunk's log-softmax stays saved; one chunk's logits (and their
      // fp32 upcast) exist at a time in forward, one chunk's two gradients in backward.
      let chunkTokens = chunking.chunkTokens(context.tokens)
      let probabilityWidth: Int64 = chunking.float32LogProbabilities ? 4 : width
      tokenChunking = chunking
      let inFlight = (chunking.keepsLogits ? 0 : width) + (probabilityWidth == width ? 0 : 4)
        + (chunking.checkpointsChunks ? probabilityWidth : 0)
      logits = chunking.keepsLogits ? context.perToken(vocabulary, width) : .zero
      chunk = StepContext.bytes(chunkTokens, vocabulary, width: inFlight)
      upcast = .zero
      logProbabilities = chunking.checkpointsChunks ? .zero : context.perToken(vocabulary, probabilityWidth)
      gradient = StepContext.bytes(chunkTokens, vocabulary, width: probabilityWidth)
      heldInBackward = logits
    } else if isChunked {
      tokenChunking = nil
      logits = .zero
      chunk = min(context.perToken(vocabulary, Self.chunkBytesPerLogit), Self.chunkCap)
      upcast = .zero
      logProbabilities = context.perToken(1, 4)
      gradient = .zero
      heldInBackward = .zero
    } else {
      tokenChunking = nil
      logits = context.perToken(vocabulary, width)
      chunk = .zero
      upcast = width == 4 ? .zero : context.perToken(vocabulary, 4)
      logProbabilities = context.perToken(vocabulary, 4)
      gradient = context.perToken(vocabulary, 4)
      heldInBackward = width == 4 ? logits : .zero
    }
  }

  /// What autograd holds for the loss at the end of forward.
  var saved: ByteCount { finalNorm + weightCopy + logProbabilities + labels }

  /// The loss's forward moment: logits, their fp32 copy and the log-probabilities together.
  var forwardMoment: ByteCount { finalNorm + weightCopy + logits + chunk + upcast + logProbabilities + labels }

  /// The loss's backward moment: log-probabilities and two gradients (chunked: one chunk).
  var backwardMoment: ByteCount {
    isChunked && tokenChunking == nil ? finalNorm + weightCopy + chunk + logProbabilities
      : finalNorm + weightCopy + logProbabilities + 2 * gradient + heldInBackward + labels
        + (tokenChunking?.checkpointsChunks == true ? chunk : .zero)
  }

  var formula: String {
    let g = NumberText.grouped
    if let chunking = tokenChunking {
      return "cross-entropy over token chunks of \(g(chunking.chunkTokens(tokens))) tokens: "
        + (logits > .zero ? "logit chunks kept b*s*V*\(logitsWidth) B = \(g(logits.bytes)); " : "")
        + (chunk > .zero ? "one chunk's logits in flight \(g(chunk.bytes)); " : "")
        + (chunking.checkpointsChunks ? "each chunk checkpointed (recomputed in backward); "
          : "every chunk's log-softmax saved \(g(logProbabilities.bytes)); ")
        + "backward: 2 gradients of one chunk \(g(gradient.bytes)); "
        + "final norm input \(g(finalNorm.bytes))"
    }
    if isChunked {
      return "chunked cross-entropy: full logits never materialised; one chunk min(b*s*V*16 B, 4 GiB) = "
        + "\(g(chunk.bytes)) + one fp32 log-sum-exp per token; final norm input \(g(finalNorm.bytes))"
    }
    return "logits b*s*V*\(logitsWidth) B = \(g(logits.bytes))"
      + (upcast > .zero ? " + fp32 upcast \(g(upcast.bytes))" : "")
      + " + log-softmax fp32 \(g(logProbabilities.bytes)) (saved); backward: 2 fp32 gradients of \(g(gradient.bytes))"
      + (weightCopy > .zero ? "; lm_head weight cast by autocast \(g(weightCopy.bytes)) (saved)" : "")
      + "; final norm input \(g(finalNorm.bytes))"
  }
}

/// How a recipe stores its 4-bit weights: bitsandbytes' `Linear4bit` buffers or torchao's
/// `NF4Tensor` (torchtune). See ``FourBitWeightBuffers`` and ``TorchAONF4Buffers``.
public enum FourBitLayout: String, Hashable, Sendable {
  case bitsandbytes
  case torchao
  /// torchao 0.1 (April 2024): as ``torchao``, but each weight's quantization factors keep the
  /// storage of one factor per scaler (``TorchAONF4Buffers/init(elementCount:blockSize:dtype:keepsFactorPerScaler:)``).
  case torchao01 = "torchao-0.1"

  /// Whether the weights are torchao `NF4Tensor`s (either version).
  var isTorchAO: Bool { self != .bitsandbytes }
}

/// What a chunked cross-entropy keeps, when the loss is chunked (the setup's choice or the
/// recipe's default).
public enum ChunkedLoss: Hashable, Sendable {
  /// Liger Kernel's fused linear cross-entropy (`LigerFusedLinearCrossEntropyFunction`), what HF
  /// Trainer's `use_liger_kernel=True`, LLaMA-Factory's `enable_liger_kernel` and ms-swift's
  /// `--use_liger_kernel` switch on: the full logits never exist.
  case liger
  /// Unsloth's fused cross-entropy (unsloth_zoo `fused_losses/cross_entropy_loss.py`): the full
  /// logits never exist; one chunk holds at most `min(b*s*V*16 B, 4 GiB)`.
  case unsloth
  /// The tokens are split into chunks, each chunk's logits made by lm_head, upcast when
  /// `float32LogProbabilities`, and its cross-entropy taken; every chunk's log-softmax output
  /// stays saved for backward (the losses are summed), and backward makes one chunk's two
  /// gradients at a time. `keepsLogits`: the training loop keeps the list of logit chunks.
  case tokenChunks(TokenChunking)
}

extension ChunkedLoss {
  /// The implementation in a word: `liger`, `unsloth`, `token-chunked`.
  public var label: String {
    switch self {
    case .liger: return "liger"
    case .unsloth: return "unsloth"
    case .tokenChunks: return "token-chunked"
    }
  }
}

/// One way of splitting the tokens for the loss: into `count` chunks, or chunks of `size` tokens.
public struct TokenChunking: Hashable, Sendable {
  /// A number of chunks, or a number of tokens in each.
  public enum Split: Hashable, Sendable {
    case count(Int64)
    case size(Int64)
  }

  public let split: Split
  public let float32LogProbabilities: Bool
  public let keepsLogits: Bool
  /// Each chunk runs under activation checkpointing (TRL's `chunked_nll`): nothing of it is
  /// saved; backward recomputes one chunk's logits, then makes its gradients.
  public let checkpointsChunks: Bool

  public init(_ split: Split, float32LogProbabilities: Bool, keepsLogits: Bool, checkpointsChunks: Bool = false) {
    self.split = split
    self.float32LogProbabilities = float32LogProbabilities
    self.keepsLogits = keepsLogits
    self.checkpointsChunks = checkpointsChunks
  }

  /// The tokens of the largest chunk for `tokens` tokens (`tensor_split` / `split` sizes).
  public func chunkTokens(_ tokens: Int64) -> Int64 {
    switch split {
    case .count(let count): return tokens / count + (tokens % count == 0 ? 0 : 1)
    case .size(let size): return min(tokens, size)
    }
  }
}

/// How the cross-entropy loss is computed, as a setup names it.
public enum LossKind: String, CaseIterable, Hashable, Sendable, Codable {
  /// transformers' `ForCausalLMLoss`: full logits, upcast to fp32.
  case standard
  /// The recipe's chunked (fused) loss, which never materialises the full logits.
  case chunked
  /// Liger Kernel's fused linear cross-entropy (``ChunkedLoss/liger``).
  case liger
  /// Unsloth's fused cross-entropy (``ChunkedLoss/unsloth``).
  case unsloth
  /// transformers <= 4.45: `LlamaForCausalLM.forward` (Mistral, Qwen2 alike) upcast the logits
  /// itself (`logits = logits.float()`), so the model's output holds fp32 logits, and shifted them
  /// with a copy (`shift_logits = logits[..., :-1, :].contiguous()`) before `CrossEntropyLoss`.
  /// transformers 4.46 moved the upcast into the loss (huggingface/transformers#33902, "Remove
  /// `logits.float()`", merged after 4.45; #30860), leaving the output in the model's dtype.
  /// Scripts pinned to the older transformers (fsdp_qlora's train.py of 2024) run this one.
  case fp32Logits = "fp32-logits"

  /// The kind that names `implementation` (a recipe's token-chunked loss is `chunked`).
  public init(implementation: ChunkedLoss) {
    switch implementation {
    case .liger: self = .liger
    case .unsloth: self = .unsloth
    case .tokenChunks: self = .chunked
    }
  }

  /// The implementation this kind names (nil: a full-logits loss, or the recipe's for `chunked`).
  public var implementation: ChunkedLoss? {
    switch self {
    case .liger: return .liger
    case .unsloth: return .unsloth
    case .standard, .chunked, .fp32Logits: return nil
    }
  }

  /// Whether the loss materialises the full logits (the standard loss and its older form).
  public var isFullLogits: Bool {
    switch self {
    case .standard, .fp32Logits: return true
    case .chunked, .liger, .unsloth: return false
    }
  }
}

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

  /// The implementation this kind names (nil: standard, or the recipe's for `chunked`).
  public var implementation: ChunkedLoss? { ChunkedLoss(rawValue: rawValue) }
}

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

  /// The kind that names `implementation` (a recipe's token-chunked loss is `chunked`).
  public init(implementation: ChunkedLoss) {
    switch implementation {
    case .liger: self = .liger
    case .unsloth: self = .unsloth
    case .tokenChunks: self = .chunked
    }
  }

  /// The implementation this kind names (nil: standard, or the recipe's for `chunked`).
  public var implementation: ChunkedLoss? {
    switch self {
    case .liger: return .liger
    case .unsloth: return .unsloth
    case .standard, .chunked: return nil
    }
  }
}

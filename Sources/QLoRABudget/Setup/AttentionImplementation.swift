/// transformers' `attn_implementation`.
public enum AttentionImplementation: String, CaseIterable, Hashable, Sendable, Codable {
  /// Materialises `batch x heads x seq x seq` scores and probabilities.
  case eager
  /// `torch.nn.functional.scaled_dot_product_attention` (memory-efficient/flash backends).
  case sdpa
  /// flash-attention 2.
  case flash

  /// transformers' own spelling of `attn_implementation` (`flash_attention_2`), read beside
  /// the short names.
  public init?(transformersName name: String) {
    switch name {
    case "eager": self = .eager
    case "sdpa": self = .sdpa
    case "flash_attention_2", "flash_attention_3", "kernels-community/flash-attn": self = .flash
    default: return nil
    }
  }
}

/// transformers' `attn_implementation`.
public enum AttentionImplementation: String, CaseIterable, Hashable, Sendable, Codable {
  /// Materialises `batch x heads x seq x seq` scores and probabilities.
  case eager
  /// `torch.nn.functional.scaled_dot_product_attention` (memory-efficient/flash backends).
  case sdpa
  /// flash-attention 2.
  case flash
}

/// transformers' `attn_implementation`, and the backend a framework's own attention layers
/// pick (``Recipe/ownLayerAttention``).
public enum AttentionImplementation: String, CaseIterable, Hashable, Sendable, Codable {
  /// Materialises `batch x heads x seq x seq` scores and probabilities.
  case eager
  /// `torch.nn.functional.scaled_dot_product_attention` (memory-efficient/flash backends).
  case sdpa
  /// flash-attention 2.
  case flash
  /// xformers' `memory_efficient_attention`, as Unsloth's own layers call it when flash-attn is
  /// not installed (`utils/attention_dispatch.py` `run_attention`): under grouped-query attention
  /// k and v are copied to every query head first. transformers has no such `attn_implementation`.
  case xformers

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

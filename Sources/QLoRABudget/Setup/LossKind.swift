/// How the cross-entropy loss is computed.
public enum LossKind: String, CaseIterable, Hashable, Sendable, Codable {
  /// transformers' `ForCausalLMLoss`: full logits, upcast to fp32.
  case standard
  /// Chunked (fused) cross-entropy that never materialises the full logits (Liger, Unsloth).
  case chunked
}

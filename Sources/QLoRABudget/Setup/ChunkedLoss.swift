/// A cross-entropy implementation that never materialises the full logits, each with its own
/// chunk rule (``LogitsAndLoss`` counts its bytes).
public enum ChunkedLoss: String, CaseIterable, Hashable, Sendable, Codable {
  /// Liger Kernel's fused linear cross-entropy (`LigerFusedLinearCrossEntropyFunction`), what HF
  /// Trainer's `use_liger_kernel=True`, LLaMA-Factory's `enable_liger_kernel` and ms-swift's
  /// `--use_liger_kernel` switch on.
  case liger
  /// Unsloth's fused cross-entropy (unsloth_zoo `fused_losses/cross_entropy_loss.py`).
  case unsloth
}

/// What the training loop keeps of the model's output, which decides whether the logits (and,
/// without checkpointing, the key/value cache) live through backward and the optimizer step.
public enum TrainingLoop: String, CaseIterable, Hashable, Sendable, Codable {
  /// HF Trainer's `compute_loss`: only the loss survives the forward call, so the output's
  /// logits are freed before backward (transformers `trainer.py` `compute_loss` returns
  /// `outputs["loss"]`; `training_step` keeps only that).
  case trainer
  /// A hand-written `out = model(...); out.loss.backward(); opt.step()`: `out` stays referenced
  /// through backward and the optimizer step, and is dropped when the next step rebinds it.
  case plain
}

/// Where the step's kernels run. It changes what a few ops save and allocate (docs/estimation.md
/// lists the terms): CUDA's fused dropout keeps a 1-byte mask, the CPU's a noise tensor in the
/// input's dtype; CPU SDPA runs grouped-query attention natively; CUDA adds cuBLAS workspaces,
/// the CUDA context and the caching allocator's reserve, which the CPU has none of.
public enum KernelPlatform: String, CaseIterable, Hashable, Sendable, Codable { case cuda, cpu }

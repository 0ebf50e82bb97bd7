/// The transient rows of the breakdown and the peak, from a ``StepPeak``.
struct TransientComponents {
  private(set) var components: [MemoryComponent]
  private let setup: TrainingSetup
  private let step: StepPeak
  private let context: ByteCount

  init(step: StepPeak, setup: TrainingSetup, gpu: GPU?) {
    self.step = step
    self.setup = setup
    let runtime = RuntimeOverhead.context(for: gpu)
    context = runtime.bytes
    let g = NumberText.grouped
    components = [
      MemoryComponent(
        .activations, lifetime: .transient, bytes: step.stack.kept + step.stack.recomputedLayer + step.keyValueCache,
        formula: step.stack.formula
          + (step.keyValueCache > .zero ? "; + key/value cache (use_cache on without checkpointing) \(g(step.keyValueCache.bytes))" : ""),
        source: "tensor by tensor from transformers 5.23 modeling code, peft 0.21.2 bnb.py, bitsandbytes 0.50.2, "
          + "PyTorch derivatives.yaml; checked against cpu-step-peaks.json (docs/estimation.md, docs/validation.md)"),
      MemoryComponent(
        .logits, lifetime: .transient, bytes: max(step.loss.forwardMoment, step.loss.backwardMoment),
        formula: step.loss.formula + " (the larger of the forward and backward moments)",
        source: "transformers loss_utils.py ForCausalLMLoss (logits.float()), PyTorch log_softmax/nll_loss backward"),
      MemoryComponent(
        .dequantBuffers, lifetime: .transient, bytes: step.dequant.bytes, formula: step.dequant.formula,
        source: "bitsandbytes 0.50.2 MatMul4Bit / Linear4bit.set_compute_type"),
      MemoryComponent(
        .runtime, lifetime: .transient, bytes: runtime.bytes, formula: runtime.formula, source: runtime.source),
    ]
    if step.stack.offloadedToHost > .zero {
      components.append(
        MemoryComponent(
          .activations, device: .host, lifetime: .transient, bytes: step.stack.offloadedToHost,
          formula: "\(step.stack.layerCount - 1) checkpointed layer inputs (all but the last) x b*s*h x 2 B "
            + "(bf16) in pinned host memory",
          source: "unsloth_zoo gradient_checkpointing.py UnslothCheckpointFunction (MINIMUM_SIZE 2 MiB, "
            + "last layer kept, fp32 stored as bf16); docs/recipes.md section 3"))
    }
  }

  /// The assumptions behind the transient figures, in words.
  var assumptions: [String] {
    let peak = step.profile.peak
    let g = NumberText.grouped
    var lines = [
      "peak = the largest moment of a steady step (\(peak.name.rawValue)): "
        + step.profile.phases.map { "\($0.name.rawValue) \(g($0.bytes.bytes)) B" }.joined(separator: ", ")
        + " above resident",
      "a plain loop keeps the model output (logits) between steps; the loss's fp32 copies are freed after backward",
    ]
    if setup.usesGradientCheckpointing {
      lines.append(setup.recipe.offloadsCheckpointInputs
        ? "checkpointing offloads each layer's input to pinned host memory (Unsloth; the host activations row) and "
          + "recomputes one layer at a time; the GPU keeps the last layer's input and up to two copy-back buffers"
        : "checkpointing keeps each layer's input and recomputes one layer at a time (reentrant or not: same bytes)")
    }
    if setup.lora.dropout > 0, !setup.isFullFineTune { lines.append("lora_dropout > 0: each LoRA branch keeps its own dropped-out input and mask") }
    return lines
  }

  /// Allocated, reserved and process peaks on top of `resident`.
  func peak(resident: ByteCount) -> PeakMemory {
    let top = step.profile.peak
    let allocated = resident + top.bytes
    let reserved = allocated + RuntimeOverhead.reserve(over: allocated)
    return PeakMemory(allocated: allocated, reserved: reserved, process: reserved + context, phase: top.name)
  }

  /// The allocator's reserve at `peak`: reserved minus allocated.
  static func allocatorReserve(at peak: PeakMemory) -> MemoryComponent {
    MemoryComponent(
      .allocatorReserve, lifetime: .transient, bytes: peak.reserved - peak.allocated,
      formula: "12.6% of peak allocated \(NumberText.grouped(peak.allocated.bytes)) B "
        + "(median reserved/allocated - 1 over the 22 fitcheck-t4 runs)",
      source: "fitcheck-t4 measurements (docs/validation.md)")
  }
}

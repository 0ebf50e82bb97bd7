/// The transient rows of the breakdown and the peak, from a ``StepPeak``.
struct TransientComponents {
  private(set) var components: [MemoryComponent]
  private let setup: TrainingSetup
  private let step: StepPeak
  /// The CUDA context (zero off CUDA).
  let context: ByteCount
  let workspaces: ByteCount

  init(step: StepPeak, setup: TrainingSetup, gpu: GPU?) {
    self.step = step
    self.setup = setup
    let cuda = setup.platform == .cuda
    let runtime =
      cuda
      ? RuntimeOverhead.context(for: gpu) : (.zero, "no CUDA context (CPU platform)", "platform cpu")
    context = runtime.bytes
    let workspaces = RuntimeOverhead.cublasWorkspaces(for: gpu, platform: setup.platform)
    self.workspaces = workspaces
    let g = NumberText.grouped
    components = [
      MemoryComponent(
        .activations, lifetime: .transient,
        bytes: step.stack.kept + step.stack.recomputedLayer + step.keyValueCache + step.previousStep,
        formula: step.stack.formula
          + (step.keyValueCache > .zero
            ? "; + key/value cache (use_cache on without checkpointing) \(g(step.keyValueCache.bytes))" : "")
          + (step.previousStep > .zero
            ? "; + the previous step's logits and the inputs its 4-bit matmuls keep, alive until this forward "
              + "returns \(g(step.previousStep.bytes))" : ""),
        source: setup.recipe.modelCode != nil
          ? "tensor by tensor from the recipe's own model code and the bitsandbytes it pinned (docs/recipes.md), "
            + "PyTorch derivatives.yaml; checked on CPU with that code (docs/validation.md)"
          : "tensor by tensor from transformers 5.23 modeling code, peft 0.21.2 bnb.py, bitsandbytes 0.50.2, "
            + "PyTorch derivatives.yaml; checked against cpu-steps and fitcheck-t4 (docs/estimation.md, "
            + "docs/validation.md)"
            + (step.stack.dense.fusedKernels == nil
              ? ""
              : "; the layers as Unsloth 2026.8.19's own kernels run them (kernels/fast_lora.py, rms_layernorm.py)")
      ),
      MemoryComponent(
        .logits, lifetime: .transient, bytes: max(step.loss.forwardMoment, step.loss.backwardMoment),
        formula: step.loss.formula + " (the larger of the forward and backward moments)",
        source: "transformers loss_utils.py ForCausalLMLoss (logits.float()), PyTorch log_softmax/nll_loss backward"),
      MemoryComponent(
        .dequantBuffers, lifetime: .transient, bytes: step.dequant.largestBytes, formula: step.dequant.formula,
        source: step.dequant.source),
      MemoryComponent(
        .cublasWorkspaces, lifetime: .transient, bytes: workspaces,
        formula: workspaces == .zero
          ? "no cuBLAS (not a CUDA device)"
          : "2 handles (forward thread, autograd thread) x \(NumberText.grouped(workspaces.bytes / 2)) B",
        source: "PyTorch CublasHandlePool.cpp getChosenWorkspaceSize (:4096:2:16:8 before Hopper, 32 MiB on sm90); "
          + "allocated through the caching allocator"),
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
      setup.trainingLoop == .plain
        ? "plain loop: the model output (logits\(setup.usesGradientCheckpointing ? "" : ", key/value cache")) stays referenced "
          + "through backward and the optimizer step"
        : step.loss.heldOutput > .zero
          ? "the loop keeps the loss and its list of logit chunks through backward and the optimizer step"
          : "trainer loop (HF Trainer's compute_loss, or the framework's own step): only the loss survives forward; "
            + "the logits are freed before backward",
      "kernels: \(setup.platform.rawValue)"
        + (setup.platform == .cpu ? " (no CUDA context, cuBLAS workspace or allocator reserve)" : ""),
    ]
    if setup.usesGradientCheckpointing {
      lines.append(
        setup.recipe.offloadsCheckpointInputs
          ? "checkpointing offloads each layer's input to pinned host memory (Unsloth; the host activations row) and "
            + "recomputes one layer at a time; the GPU keeps the last layer's input and up to two copy-back buffers"
          : "checkpointing keeps each layer's input and recomputes one layer at a time (reentrant or not: same bytes)")
    }
    if let kernels = step.stack.dense.fusedKernels { lines += [kernels.description, kernels.attentionDescription] }
    if setup.recipe.modelCode?.keepsPreviousStepThroughForward == true {
      lines.append(
        "the loop rebinds its output when the next forward returns (LitGPT's `logits = model(...)`): the previous "
          + "step's logits, and what its graph still holds, live through this step's forward")
    }
    if setup.loraDropout > 0, !setup.isFullFineTune {
      lines.append(
        setup.recipe.modelCode?.fusedQueryKeyValue == true
          ? "lora_dropout > 0: the adapters on q, k and v (one LoRA module over the fused qkv) share one dropped-out "
            + "input and mask; every other LoRA branch keeps its own"
          : "lora_dropout > 0: each LoRA branch keeps its own dropped-out input and mask")
    }
    return lines
  }

  /// Allocated, reserved and process peaks on top of `resident`; `reserved` is the simulated
  /// allocator's peak (nil off CUDA: reserved is allocated).
  func peak(resident: ByteCount, reserved simulated: ByteCount?) -> PeakMemory {
    let top = step.profile.peak
    let allocated = resident + top.bytes + workspaces
    let reserved = max(allocated, simulated ?? allocated)
    return PeakMemory(allocated: allocated, reserved: reserved, process: reserved + context, phase: top.name)
  }

  /// The allocator's reserve at `peak`: reserved minus allocated (none on the CPU platform).
  static func allocatorReserve(at peak: PeakMemory, reserve: AllocatorReserve?) -> MemoryComponent {
    let g = NumberText.grouped
    guard let reserve else {
      return MemoryComponent(
        .allocatorReserve, lifetime: .transient, bytes: .zero, formula: "none: the CPU allocator keeps no cache",
        source: "PyTorch CPU allocator")
    }
    return MemoryComponent(
      .allocatorReserve, lifetime: .transient, bytes: peak.reserved - peak.allocated,
      formula: "peak reserved \(g(reserve.peakReserved.bytes)) B (loading, warm-up step and step through the caching "
        + "allocator's rules; loader: \(reserve.loader.label)) - peak allocated \(g(peak.allocated.bytes)) B; "
        + reserve.summary,
      source: "PyTorch 2.10 CUDACachingAllocator rules simulated (docs/estimation.md)")
  }
}

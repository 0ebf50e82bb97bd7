/// A decoder layer run through the framework's own kernels instead of transformers' modules and
/// peft's LoRA branches: Unsloth's `FastLlamaModel` (the recipe's
/// ``Recipe/fusedKernelModelTypes``). Read from unsloth 2026.8 (`models/llama.py`,
/// `kernels/fast_lora.py`, `kernels/rms_layernorm.py`, `kernels/rope_embedding.py`,
/// `kernels/swiglu.py`). Per token, with `x` the residual stream's width (the hidden states'
/// dtype) and `p` the projections' output width:
///
/// - RMSNorm (`Fast_RMS_Layernorm`, every layer of these families whatever LoRA does): saves its
///   input as it is (`ctx.save_for_backward(X, W, r)`, no fp32 copy) and the fp32 rsqrt `r`, one
///   per row: `h x x + 4`. The first norm's input is the layer's input, which checkpointing
///   already keeps (Unsloth's offload copies it back into a kept GPU buffer before the layer is
///   recomputed), so there it adds 4 B; the second norm's is `residual + attention output`, a
///   tensor of its own. Its output `Y` takes the input's dtype; its backward writes the input's
///   gradient into the incoming one (`dX = dY` unless Gemma).
/// - RoPE (`Fast_RoPE_Embedding`): rotates q and k in place (the `transpose(1, 2).contiguous()`
///   of the projection's `b x s x heads x d` output copies nothing) and keeps only cos/sin, as
///   ``AttentionActivations`` counts it.
/// - With LoRA dropout 0 and bias none (`patch_peft_model`: `lora_dropout == 0 and bias ==
///   "none"`), each block whose modules are all adapted, none with a base bias and none with
///   DoRA, is one autograd function computing `X @ W + (X @ A) @ B * s` in the input's dtype:
///   - `LoRA_QKV` (q, k and v) saves `X`, the first norm's output, and no `X @ A`; its backward
///     writes the input's gradient into `X` (`torch.matmul(dQ, QW.t(), out = X)`).
///   - `LoRA_W` (o_proj) saves `X`, the attention output, which SDPA and flash-attention save
///     already.
///   - `LoRA_MLP` (gate, up and down) saves `X`, `e = X @ G` and `g = X @ U`: `h x x + 2 I x p`.
///     `h = swiglu(e, g)` is made in forward for the down projection and not kept; backward
///     computes `DW = dY @ W_down^T` (`I x p`) and `swiglu_DWf_DW_dfg_kernel` writes h, df and
///     de into DW, e and g in place, so `DW` is its one temporary of that size.
/// - Dropout above 0, DoRA, a base bias or a block not fully adapted: that block stays peft's
///   (``LoRABranch``), as `patch_peft_model` leaves it; the norms stay Unsloth's.
/// Other model types (`FastModel`, compiled by unsloth_zoo), 8-bit loading and full fine-tuning
/// (`FastLanguageModel.from_pretrained` sends `load_in_8bit` and `full_finetuning` to `FastModel`
/// too) and multimodal wrappers are transformers' layers here.
struct FusedDecoderKernels {
  /// Whether q, k and v run as `LoRA_QKV`.
  let fusesQueryKeyValue: Bool
  /// Whether o_proj runs as `LoRA_W`.
  let fusesOutput: Bool
  /// Whether gate, up and down run as `LoRA_MLP`.
  let fusesFeedForward: Bool
  /// The attention backend the layers run (``TrainingSetup/attention(for:)``), whether the setup
  /// named it, and whether keys and values have fewer heads than queries.
  let attention: AttentionImplementation
  let attentionGiven: Bool
  let groupedQuery: Bool

  /// Whether the model runs the framework's own layers: its decoder layers and its final norm
  /// (`LlamaModel_fast_forward` ends in `fast_rms_layernorm(self.norm, ...)`).
  static func runs(_ context: StepContext) -> Bool { context.setup.runsOwnLayers(of: context.model) }

  /// The layer's kernels, or nil when the layer is transformers'.
  init?(_ context: StepContext, adapted: [LinearModule], sparse: Bool) {
    guard Self.runs(context) else { return nil }
    let model = context.model
    let lora = context.setup.lora
    let patches = context.setup.loraDropout == 0 && !lora.usesDoRA
    func fuses(_ names: [String], reading inputs: Set<LinearModule.Input>) -> Bool {
      let modules = model.inventory.linears.filter { inputs.contains($0.input) && $0.role == .projection }
      return patches
        && names.allSatisfy { name in
          modules.contains { $0.name == name && !$0.hasBias }
            && adapted.contains { $0.name == name && inputs.contains($0.input) }
        }
    }
    attention = context.attention
    attentionGiven = context.setup.givenAttention != nil
    groupedQuery = model.keyValueHeadCount != model.attentionHeadCount
    fusesQueryKeyValue = fuses(["q_proj", "k_proj", "v_proj"], reading: [.attentionInput])
    fusesOutput = fuses(["o_proj"], reading: [.attentionOutput])
    fusesFeedForward =
      !sparse && fuses(["gate_proj", "up_proj", "down_proj"], reading: [.feedForwardInput, .feedForwardIntermediate])
  }

  /// The kernels in words, for the estimate's assumptions.
  var description: String {
    let blocks = [(fusesQueryKeyValue, "q/k/v"), (fusesOutput, "o_proj"), (fusesFeedForward, "the MLP")]
      .filter(\.0).map(\.1)
    let lora =
      blocks.isEmpty
      ? "no LoRA block fused (dropout above 0, DoRA, a base bias or a block not fully adapted): peft's branches"
      : "fused LoRA functions for \(blocks.joined(separator: ", ")) keep their inputs (the MLP also its gate and up "
        + "outputs) and no x*A"
    return "the recipe's own decoder kernels (Unsloth): RMSNorm keeps its input and an fp32 rsqrt; " + lora
  }

  /// The attention the layers run, in words, for the estimate's assumptions.
  var attentionDescription: String {
    let choice =
      "Unsloth's select_attention_backend takes flash-attn when installed (sm 8.0+), else xformers, else SDPA"
    let chosen =
      attentionGiven
      ? "attention in those layers: \(attention.rawValue), as set (\(choice))"
      : "attention in those layers: \(attention.rawValue), what a plain pip install of unsloth runs (it brings "
        + "xformers, not flash-attn; \(choice))"
    guard attention == .xformers, groupedQuery else { return chosen }
    return chosen + "; k and v are copied to every query head for xformers and saved so"
  }

  /// Whether the LoRA branches reading `slot` are one fused function, which saves that input
  /// (shared with whatever else keeps it) and nothing of its own.
  func fuses(_ slot: LinearModule.Input) -> Bool {
    switch slot {
    case .attentionInput: return fusesQueryKeyValue
    case .attentionOutput: return fusesOutput
    case .feedForwardInput, .feedForwardIntermediate: return fusesFeedForward
    default: return false
    }
  }

  /// What one RMSNorm saves: the fp32 rsqrt per token, and its input unless something else keeps it.
  static func normSaved(_ context: StepContext, inputKeptElsewhere: Bool) -> ByteCount {
    let input = inputKeptElsewhere ? .zero : context.perToken(context.model.hiddenSize, context.stream)
    return input + context.perToken(1, 4)
  }

  /// What `LoRA_MLP` saves beside its input: `e` and `g`, `intermediate x g` each.
  static func feedForwardSaved(_ context: StepContext, intermediate: Int64, outputWidth g: Int64) -> TensorTerm {
    TensorTerm("gate output e, up output g (fused LoRA MLP)", 2 * context.perToken(intermediate, g), tensors: 2)
  }

  /// The fused MLP's one intermediate-size temporary: swiglu's output `h` in forward, the down
  /// projection's input gradient `DW` in backward.
  static func feedForwardTransient(_ context: StepContext, intermediate: Int64, outputWidth g: Int64) -> ByteCount {
    context.perToken(intermediate, g)
  }
}

/// Everything about a fine-tuning run that decides its memory, except the model and the GPU.
///
/// The defaults are the QLoRA setup most guides run: NF4 with double quantization, block 64,
/// bf16 compute, LoRA rank 16 on all linear layers, AdamW, 2,048 tokens, batch 1, SDPA,
/// under autocast, with the `hf-peft` recipe (which turns gradient checkpointing on).
public struct TrainingSetup: Hashable, Sendable {
  public var quantization: BaseQuantization = .nf4
  public var usesDoubleQuantization: Bool = true
  /// Elements per absmax block of the 4-bit weights (bitsandbytes accepts 32...4096).
  public var blockSize: Int64 = 64
  public var lora = LoRAConfiguration()
  public var optimizer: Optimizer = .adamw
  public var computeDtype: ComputeDtype = .bf16
  public var recipe: Recipe = .hfPeft
  public var sequenceLength: Int64 = 2048
  public var batchSize: Int64 = 1
  /// nil: the recipe's default.
  public var gradientCheckpointing: Bool? = nil
  /// The attention the setup names; nil: the recipe's (``attention``).
  public var givenAttention: AttentionImplementation? = nil
  /// The attention as given, else the backend the recipe's own layers pick
  /// (``Recipe/ownLayerAttention``: xformers for Unsloth), else SDPA (transformers' default).
  /// The layers of a model the recipe runs through transformers run SDPA in its place
  /// (``attention(for:)``).
  public var attention: AttentionImplementation {
    get { givenAttention ?? recipe.ownLayerAttention ?? .sdpa }
    set { givenAttention = newValue }
  }
  /// Forward and loss under `torch.autocast` (HF Trainer with bf16/fp16=True). Without it peft
  /// casts the LoRA branch's input to the adapters' dtype.
  public var usesAutocast: Bool = true
  /// How the cross-entropy is computed, as the setup names it; nil: the recipe's default.
  public var loss: LossKind? = nil
  /// GPUs the run is spread over (with ``engine``); every figure is per GPU.
  public var gpuCount: Int64 = 1
  /// How the GPUs share the model: FSDP (fsdp_qlora's, the default) or DeepSpeed ZeRO.
  public var engine: ParallelEngine = .fsdp
  /// Machines the GPUs are in (each holds `gpuCount / nodeCount`); HYBRID_SHARD shards within one.
  public var nodeCount: Int64 = 1
  /// What the engine keeps in host memory (ZeRO-Offload, FSDP CPU offload).
  public var offload: EngineOffload = []
  /// Whether ``engine`` and ``offload`` change the run. On one GPU plain FSDP shards nothing,
  /// so the run is the single-GPU one; DeepSpeed still casts the module to the compute dtype,
  /// and offload still moves state to host memory.
  public var usesEngine: Bool { !(gpuCount == 1 && !engine.isDeepSpeed && offload.isEmpty) }
  /// DeepSpeed's bucket and threshold keys (ZeRO engines only).
  public var deepSpeed = DeepSpeedBuckets()
  /// Full fine-tuning of every parameter, for comparison; LoRA and quantization settings are
  /// then ignored.
  public var isFullFineTune: Bool = false
  /// What the loop keeps of the model output; nil: the recipe's loop.
  public var loop: TrainingLoop? = nil
  /// The kernels the step runs on: `.cuda` for every GPU estimate; `.cpu` to compare with steps
  /// measured by PyTorch's CPU allocator (docs/validation.md).
  public var platform: KernelPlatform = .cuda
  /// How full fine-tuning holds its parameters (ignored for LoRA).
  public var fullFineTunePrecision: FullFineTunePrecision = .pure

  /// The CUDA caching allocator's settings (`PYTORCH_CUDA_ALLOC_CONF`); nil: the recipe's.
  public var allocatorConfiguration: AllocatorSettings? = nil

  public init() {}

  /// The allocator settings the run uses: the ones given, else what the recipe's framework sets.
  public var allocator: AllocatorSettings { allocatorConfiguration ?? recipe.allocator }

  /// Whether gradient checkpointing is on, after the recipe's default.
  public var usesGradientCheckpointing: Bool { gradientCheckpointing ?? recipe.checkpointsByDefault }
  /// `lora_dropout`: as given, else the recipe's default (``Recipe/defaultLoRADropout``).
  public var loraDropout: Double { lora.givenDropout ?? recipe.defaultLoRADropout }

  /// The loop after the recipe's default.
  public var trainingLoop: TrainingLoop { loop ?? recipe.loop }

  /// The loss after the recipe's default: its chunked loss by name (`unsloth`, or `chunked`
  /// for token chunks) when it chunks by default, else `standard`.
  public var effectiveLoss: LossKind {
    if let loss { return loss }
    guard recipe.usesChunkedCrossEntropy else { return .standard }
    return recipe.chunkedLoss.map(LossKind.init(implementation:)) ?? .chunked
  }

  /// Whether the loss is chunked, after the recipe's default.
  public var usesChunkedCrossEntropy: Bool { !effectiveLoss.isFullLogits }

  /// The chunked loss that runs, or nil for a full-logits loss (also when the recipe
  /// has no chunked loss and none is named: ``validate()`` rejects that).
  public var lossImplementation: ChunkedLoss? {
    switch effectiveLoss {
    case .standard, .fp32Logits: return nil
    case .chunked: return recipe.chunkedLoss
    case .liger, .unsloth: return effectiveLoss.implementation
    }
  }

  /// The dtypes of the tensors bitsandbytes does not quantize, after the recipe: every
  /// tensor in the compute dtype for full fine-tuning.
  public var unquantizedDtypes: Recipe.UnquantizedDtypes {
    // DeepSpeed casts the module to the compute dtype (engine.py: self.module.bfloat16()); its
    // fp32 master copy is the optimizer's (EngineSharding).
    if engine.isDeepSpeed { return .allCompute }
    if isFullFineTune { return fullFineTunePrecision == .mixed ? .allFloat32 : .allCompute }
    return quantization.isQuantized ? recipe.withQuantizedBase : recipe.withSixteenBitBase
  }

  /// The adapters' dtype rule: the recipe's, or the compute dtype under DeepSpeed, which casts
  /// the whole module (its fp32 master copy is counted with the optimizer state).
  public var adapterDtype: DtypeRule { engine.isDeepSpeed ? .compute : recipe.adapters }

  /// Whether the run needs bitsandbytes: a quantized base, or an 8-bit or paged optimizer.
  public var needsBitsandbytes: Bool {
    effectiveQuantization.isQuantized || optimizer.isEightBit || optimizer.isPaged
  }

  /// The dtype of full fine-tuning's parameters and gradients: fp32 master weights with mixed
  /// precision, else the compute dtype.
  public var fullFineTuneParameterDtype: TensorDtype {
    fullFineTunePrecision == .mixed && !engine.isDeepSpeed ? .float32 : computeDtype.tensorDtype
  }

  /// The quantization actually applied (none for full fine-tuning).
  public var effectiveQuantization: BaseQuantization { isFullFineTune ? .none : quantization }
}

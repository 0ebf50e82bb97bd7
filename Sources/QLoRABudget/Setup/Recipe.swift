/// What a training framework does to the model around bitsandbytes and peft: which dtype the
/// unquantized tensors and the adapters end up in, and its defaults. Recipes are data; the
/// estimator reads them and never asks which framework it is.
public struct Recipe: Hashable, Sendable {
  /// The dtypes of the tensors bitsandbytes does not quantize.
  public struct UnquantizedDtypes: Hashable, Sendable {
    /// Token and position embeddings, and lm_head.
    public var embeddings: DtypeRule
    public var norms: DtypeRule
    /// Biases of the linear layers.
    public var biases: DtypeRule
  }

  public let name: String
  public let summary: String
  /// Unquantized tensors when the base is 4- or 8-bit.
  public let withQuantizedBase: UnquantizedDtypes
  /// The base when it is not quantized (16-bit LoRA).
  public let withSixteenBitBase: UnquantizedDtypes
  public let adapters: DtypeRule
  /// The linear roles that are `nn.Linear` modules in the recipe's framework: what
  /// bitsandbytes quantizes and peft's `all-linear` targets. Other expert/router weights
  /// stay unquantized parameters with the embeddings' dtype rule.
  public let linearRoles: Set<LinearModule.Role>
  /// Whether the recipe turns gradient checkpointing on unless told otherwise.
  public let checkpointsByDefault: Bool
  /// Whether the loss is computed in chunks without materialising fp32 logits (Unsloth, Liger).
  public let usesChunkedCrossEntropy: Bool
  /// The chunked loss the framework switches on when asked (`--loss chunked`); nil: none.
  public let chunkedLoss: ChunkedLoss?
  /// Whether gradient checkpointing copies each checkpointed layer's input to host memory and
  /// back in backward (Unsloth's `use_gradient_checkpointing="unsloth"`).
  public let offloadsCheckpointInputs: Bool
  /// The `model_type`s whose decoder layers the framework runs through its own kernels instead of
  /// transformers' modules (Unsloth's `FastLlamaModel` families): its RMSNorm, and with LoRA
  /// dropout 0 its fused LoRA autograd functions (``FusedDecoderKernels``). Empty: transformers'.
  public let fusedKernelModelTypes: Set<String>
  /// The attention backend the framework's own layers (``fusedKernelModelTypes``) run when the
  /// setup names none; nil: transformers' default (SDPA). Unsloth's `select_attention_backend`
  /// takes flash-attn when it is installed (and the GPU is sm 8.0+), else xformers, else SDPA; a
  /// plain `pip install unsloth` brings xformers and no flash-attn (the wheel's Requires-Dist),
  /// so xformers. A setting given names what is installed instead: flash (flash-attn), xformers,
  /// or SDPA (neither).
  public let ownLayerAttention: AttentionImplementation?
  /// `lora_dropout` when the setup does not give one: 0.05 (this tool's default, what most
  /// guides use), 0 for Unsloth (`FastLanguageModel.get_peft_model`'s default, which its fused
  /// LoRA kernels need).
  public let defaultLoRADropout: Double
  /// The loop the recipe's framework runs (what it keeps of the model output).
  public let loop: TrainingLoop
  /// Where each fact comes from.
  public let sources: [String]
  /// The 4-bit storage (bitsandbytes unless the recipe quantizes with torchao).
  public let fourBitLayout: FourBitLayout
  /// Whether lm_head is a 4-bit linear too (LitGPT: Fabric's BitsandbytesPrecision replaces
  /// every `nn.Linear`); untied heads only.
  public let quantizesOutputHead: Bool
  /// How the framework copies checkpoint tensors to the GPU while quantizing (the staging
  /// copies the allocator caches).
  public let loader: CheckpointLoader
  /// The allocator settings the framework sets itself (`PYTORCH_CUDA_ALLOC_CONF`).
  public let allocator: AllocatorSettings
  /// How the framework hands `all-linear` to peft on transformers 5, where peft rewrites the
  /// targets of the MoE families whose experts were fused (``PeftExpertTargets``); nil when the
  /// recipe is not peft on transformers 5.
  public let allLinearToPeft: AllLinearToPeft?
  /// What the framework's own model code does that transformers' layers do not, when it has its
  /// own (``FrameworkModelCode``); nil: transformers' modeling code.
  public let modelCode: FrameworkModelCode?

  public init(
    name: String, summary: String, withQuantizedBase: UnquantizedDtypes, withSixteenBitBase: UnquantizedDtypes,
    adapters: DtypeRule, linearRoles: Set<LinearModule.Role>, checkpointsByDefault: Bool, usesChunkedCrossEntropy: Bool,
    chunkedLoss: ChunkedLoss?, loop: TrainingLoop, sources: [String], offloadsCheckpointInputs: Bool = false,
    fusedKernelModelTypes: Set<String> = [], ownLayerAttention: AttentionImplementation? = nil,
    defaultLoRADropout: Double = 0.05,
    fourBitLayout: FourBitLayout = .bitsandbytes, quantizesOutputHead: Bool = false,
    loader: CheckpointLoader = .threaded(workers: 4), allocator: AllocatorSettings = .pytorchDefault,
    allLinearToPeft: AllLinearToPeft? = nil, modelCode: FrameworkModelCode? = nil
  ) {
    self.name = name
    self.summary = summary
    self.withQuantizedBase = withQuantizedBase
    self.withSixteenBitBase = withSixteenBitBase
    self.adapters = adapters
    self.linearRoles = linearRoles
    self.checkpointsByDefault = checkpointsByDefault
    self.usesChunkedCrossEntropy = usesChunkedCrossEntropy
    self.chunkedLoss = chunkedLoss
    self.loop = loop
    self.sources = sources
    self.offloadsCheckpointInputs = offloadsCheckpointInputs
    self.fusedKernelModelTypes = fusedKernelModelTypes
    self.ownLayerAttention = ownLayerAttention
    self.defaultLoRADropout = defaultLoRADropout
    self.fourBitLayout = fourBitLayout
    self.quantizesOutputHead = quantizesOutputHead
    self.loader = loader
    self.allocator = allocator
    self.allLinearToPeft = allLinearToPeft
    self.modelCode = modelCode
  }
}

/// What peft receives for `all-linear` on transformers 5.
public enum AllLinearToPeft: Hashable, Sendable {
  /// The string itself (`LoraConfig(target_modules="all-linear")`): peft resolves it, adding the
  /// transformers 4 expert and router names of the fused MoE families.
  case string
  /// The leaf names of the model's linear modules, found by the framework (LLaMA-Factory's
  /// `find_all_linear_modules`): peft rewrites only the names that list holds.
  case linearNames
}

extension Recipe.UnquantizedDtypes {
  static let allFloat32 = Self(embeddings: .float32, norms: .float32, biases: .float32)
  static let allCompute = Self(embeddings: .compute, norms: .compute, biases: .compute)
}

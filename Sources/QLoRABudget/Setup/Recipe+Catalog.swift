extension Recipe {
  /// transformers 5 + peft with `prepare_model_for_kbit_training`, as the peft and transformers
  /// QLoRA guides run it. The default.
  public static let hfPeft = Recipe(
    name: "hf-peft",
    summary: "transformers + peft: prepare_model_for_kbit_training upcasts every non-4-bit parameter to fp32; "
      + "adapters fp32; gradient checkpointing on; MoE experts are fused parameters, not quantized",
    withQuantizedBase: .allFloat32,
    withSixteenBitBase: .allCompute,
    adapters: .float32,
    linearRoles: [.projection],
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: false,
    chunkedLoss: .liger,
    loop: .trainer,
    sources: [
      "chunked loss: HF Trainer TrainingArguments(use_liger_kernel=True) patches the model with Liger's fused linear cross-entropy",
      "loop: HF Trainer (or TRL SFTTrainer): compute_loss keeps only the loss",
      "peft 0.21.2 utils/other.py prepare_model_for_kbit_training: casts fp16/bf16 params that are not "
        + "Params4bit to float32; turns gradient checkpointing on",
      "peft tuners/tuners_utils.py cast_adapter_dtype (autocast_adapter_dtype=True): adapters in float32",
      "transformers 5.23 integrations/bitsandbytes.py: only nn.Linear/Conv1D become Linear4bit; MoE experts are "
        + "fused 3-D parameters and routers TopKRouter modules (bitsandbytes issue #1849)",
      "checked to the byte against Tests/Calibration/hf-peft-bnb-bytes.json; docs/recipes.md",
      "peft >= 0.20 (measured: 0.21.2) utils/transformers_weight_conversion.py _convert_peft_config_moe: all-linear on "
        + "the fused MoE families becomes LoRA on the fused experts and the router (target_parameters; docs/models.md)",
    ],
    allLinearToPeft: .string)

  /// transformers 4.x + peft: as ``hfPeft``, but MoE experts (and routers) are separate
  /// nn.Linear modules, so bitsandbytes quantizes them.
  public static let hfPeftTransformers4 = Recipe(
    name: "hf-peft-tf4",
    summary: "transformers 4.x + peft: as hf-peft, but MoE experts and routers are nn.Linear modules, "
      + "so bitsandbytes quantizes them to 4-bit",
    withQuantizedBase: .allFloat32,
    withSixteenBitBase: .allCompute,
    adapters: .float32,
    linearRoles: [.projection, .expert, .router],
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: false,
    chunkedLoss: .liger,
    loop: .trainer,
    sources: [
      "loop and chunked loss as hf-peft (HF Trainer; use_liger_kernel=True for Liger's fused linear cross-entropy)",
      "transformers 4.57 models/mixtral/modeling_mixtral.py: MixtralBlockSparseTop2MLP w1/w2/w3 and the gate are "
        + "nn.Linear; integrations/bitsandbytes.py replace_with_bnb_linear converts every nn.Linear but lm_head",
      "peft 0.21.2 prepare_model_for_kbit_training as in hf-peft; docs/recipes.md",
    ],
    loader: .sequential)

  /// The QLoRA paper's `qlora.py` (artidoro/qlora), on the transformers 4.x of its time.
  public static let qloraPaper = Recipe(
    name: "qlora-paper",
    summary: "artidoro/qlora qlora.py: after prepare_model_for_kbit_training, LoRA layers to bf16, "
      + "norms to fp32, embed_tokens/lm_head back to bf16",
    withQuantizedBase: .init(embeddings: .compute, norms: .float32, biases: .compute),
    withSixteenBitBase: .init(embeddings: .compute, norms: .float32, biases: .compute),
    adapters: .compute,
    linearRoles: [.projection, .expert, .router],
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: false,
    chunkedLoss: nil,
    loop: .trainer,
    sources: [
      "chunked loss: qlora.py (transformers 4.x of its time) has no chunked loss",
      "loop: qlora.py trains with Seq2SeqTrainer (an HF Trainer): compute_loss keeps only the loss",
      "artidoro/qlora qlora.py get_accelerate_model: `if isinstance(module, LoraLayer): module.to(torch.bfloat16)`; "
        + "`if 'norm' in name: module.to(torch.float32)`; lm_head/embed_tokens to bf16",
      "QLoRA paper (arXiv 2305.14314): NF4, double quantization, paged optimizers; docs/recipes.md",
    ],
    loader: .sequential)

  /// Unsloth's `FastLanguageModel`: no fp32 upcast of the base, fused chunked cross-entropy.
  public static let unsloth = Recipe(
    name: "unsloth",
    summary: "Unsloth FastLanguageModel: base tensors stay bf16/fp16, adapters fp32, MoE experts 4-bit "
      + "(routers not), chunked cross-entropy never materialises full logits",
    withQuantizedBase: .allCompute,
    withSixteenBitBase: .allCompute,
    adapters: .float32,
    linearRoles: [.projection, .expert],
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: true,
    chunkedLoss: .unsloth,
    loop: .trainer,
    sources: [
      "chunked loss: unsloth_zoo fused_losses/cross_entropy_loss.py",
      "loop: TRL SFTTrainer (an HF Trainer): compute_loss keeps only the loss",
      "unsloth 2026.10.9 models/_utils.py prepare_model_for_kbit_training (no base upcast); "
        + "llm_int8_skip_modules lists lm_head and the routers",
      "unsloth_zoo loss_utils / kernels cross_entropy_loss.py: chunked fused cross-entropy; docs/recipes.md",
      "unsloth_zoo gradient_checkpointing.py UnslothCheckpointFunction: each checkpointed layer's input is copied to "
        + "pinned host buffers when larger than MINIMUM_SIZE (2 MiB), except the last layer's; backward copies it back "
        + "into reusable GPU buffers (double-buffered when > 512 MiB is free); docs/recipes.md section 3",
      "decoder layers: unsloth models/loader.py dispatches llama, mistral, qwen2 and qwen3 (4- or 16-bit) to "
        + "FastLlamaModel, whose LlamaDecoderLayer_fast_forward runs kernels/rms_layernorm.py; with lora_dropout 0 "
        + "and bias none, llama.py patch_peft_model swaps in kernels/fast_lora.py LoRA_QKV, LoRA_W and LoRA_MLP; "
        + "docs/recipes.md section 3",
      "attention in those layers: unsloth utils/attention_dispatch.py select_attention_backend (flash-attn if "
        + "installed on sm 8.0+, else xformers, else SDPA); the unsloth wheels on PyPI (2024.12.4, 2025.6.1, 2026.8.1) "
        + "require xformers on Linux and Windows x86-64 and never flash-attn: xformers; docs/estimation.md",
    ],
    offloadsCheckpointInputs: true,
    fusedKernelModelTypes: ["llama", "mistral", "qwen2", "qwen3"], ownLayerAttention: .xformers,
    defaultLoRADropout: 0)

  /// LLaMA-Factory: its own model preparation instead of peft's.
  public static let llamaFactory = Recipe(
    name: "llama-factory",
    summary: "LLaMA-Factory: no prepare_model_for_kbit_training; embeddings, lm_head and norms stay in the "
      + "compute dtype (upcast_layernorm off); trainable params cast to fp32; gradient checkpointing on",
    withQuantizedBase: .allCompute,
    withSixteenBitBase: .allCompute,
    adapters: .float32,
    linearRoles: [.projection],
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: false,
    chunkedLoss: .liger,
    loop: .trainer,
    sources: [
      "chunked loss: enable_liger_kernel: Liger's fused linear cross-entropy",
      "loop: CustomSeq2SeqTrainer/CustomTrainer (HF Trainer subclasses): compute_loss keeps only the loss",
      "llamafactory 0.9.5 model/model_utils/checkpointing.py prepare_model_for_training "
        + "(upcast_layernorm=False, upcast_lmhead_output=False)",
      "model/adapter.py: cast_trainable_params_to_fp32; hparams/finetuning_args.py; docs/recipes.md",
      "model/model_utils/misc.py find_all_linear_modules: lora_target all is the list of the linear modules' leaf "
        + "names, which peft >= 0.19 rewrites on the fused MoE families (docs/models.md)",
    ],
    allLinearToPeft: .linearNames)

  /// ms-swift (`swift sft --train_type lora --quant_method bnb --quant_bits 4`).
  public static let msSwift = Recipe(
    name: "ms-swift",
    summary: "ms-swift: no upcast of the base; adapters fp32 (lora_dtype unset); gradient checkpointing on; "
      + "MoE routers and shared_expert_gate skipped from quantization",
    withQuantizedBase: .allCompute,
    withSixteenBitBase: .allCompute,
    adapters: .float32,
    linearRoles: [.projection],
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: false,
    chunkedLoss: .liger,
    loop: .trainer,
    sources: [
      "chunked loss: ms-swift's use_liger_kernel: Liger's fused linear cross-entropy",
      "loop: Seq2SeqTrainer (an HF Trainer subclass): compute_loss keeps only the loss",
      "ms-swift 4.6.0 swift/llm/model/register.py (bnb config, skip modules) and swift/llm/train/tuner.py "
        + "prepare_adapter (lora_dtype=None keeps peft's fp32 adapters); docs/recipes.md",
      "note: without ms-swift's quant_method bnb, quant_bits 4 does not quantize",
      "all-linear: ms-swift's find_all_linears (not read here: assumed) hands peft the linear modules' leaf names, which peft "
        + ">= 0.19 rewrites on the fused MoE families (docs/models.md)",
    ],
    allLinearToPeft: .linearNames)

  /// Every recipe, in the order help text lists them.
  public static let all: [Recipe] = [
    .hfPeft, .hfPeftTransformers4, .qloraPaper, .unsloth, .llamaFactory, .msSwift, .torchtune, .torchtune01, .litgpt,
    .axolotl,
    .trl,
  ]

  /// The recipe with this name, or nil.
  public static func named(_ name: String) -> Recipe? { all.first { $0.name == name } }
}

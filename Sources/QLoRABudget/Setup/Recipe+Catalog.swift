extension Recipe {
  /// transformers + peft with `prepare_model_for_kbit_training`, as the peft and transformers
  /// QLoRA guides run it. The default.
  public static let hfPeft = Recipe(
    name: "hf-peft",
    summary: "transformers + peft: prepare_model_for_kbit_training upcasts every non-4-bit parameter to fp32; "
      + "adapters fp32; gradient checkpointing on",
    withQuantizedBase: .allFloat32,
    withSixteenBitBase: .allCompute,
    adapters: .float32,
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: false,
    sources: [
      "peft src/peft/utils/other.py prepare_model_for_kbit_training: casts fp16/bf16 params that are not "
        + "Params4bit/Int8Params to float32; gradient checkpointing on by default",
      "peft src/peft/tuners/lora/model.py: autocast_adapter_dtype=True keeps adapter weights in float32",
      "checked to the byte against ../shared/calibration/hf-peft-bnb-bytes.json",
    ])

  /// The QLoRA paper's `qlora.py` (artidoro/qlora).
  public static let qloraPaper = Recipe(
    name: "qlora-paper",
    summary: "artidoro/qlora qlora.py: after prepare_model_for_kbit_training, LoRA layers to bf16, "
      + "norms to fp32, embed_tokens/lm_head back to bf16",
    withQuantizedBase: .init(embeddings: .compute, norms: .float32, biases: .compute),
    withSixteenBitBase: .init(embeddings: .compute, norms: .float32, biases: .compute),
    adapters: .compute,
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: false,
    sources: [
      "artidoro/qlora qlora.py get_accelerate_model: `if isinstance(module, LoraLayer): module.to(torch.bfloat16)`; "
        + "`if 'norm' in name: module.to(torch.float32)`; lm_head/embed_tokens to bf16",
      "QLoRA paper (arXiv 2305.14314) section 4",
    ])

  /// Unsloth's `FastLanguageModel`: no fp32 upcast, fused chunked cross-entropy.
  public static let unsloth = Recipe(
    name: "unsloth",
    summary: "Unsloth FastLanguageModel: base tensors stay bf16/fp16, adapters in the compute dtype, "
      + "chunked cross-entropy never materialises fp32 logits",
    withQuantizedBase: .allCompute,
    withSixteenBitBase: .allCompute,
    adapters: .compute,
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: true,
    sources: ["unslothai/unsloth models/llama.py FastLlamaModel.get_peft_model; kernels/cross_entropy_loss.py"])

  /// LLaMA-Factory: its own model preparation instead of peft's.
  public static let llamaFactory = Recipe(
    name: "llama-factory",
    summary: "LLaMA-Factory: no prepare_model_for_kbit_training; non-quantized tensors stay in the compute "
      + "dtype (upcast_layernorm off); trainable params cast to fp32; gradient checkpointing on",
    withQuantizedBase: .allCompute,
    withSixteenBitBase: .allCompute,
    adapters: .float32,
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: false,
    sources: [
      "hiyouga/LLaMA-Factory src/llamafactory/model/model_utils/checkpointing.py prepare_model_for_training",
      "src/llamafactory/model/adapter.py: cast_trainable_params_to_fp32",
    ])

  /// ms-swift (`swift sft --train_type lora --quant_bits 4`).
  public static let msSwift = Recipe(
    name: "ms-swift",
    summary: "ms-swift: non-quantized tensors stay in the compute dtype; adapters fp32; gradient checkpointing on",
    withQuantizedBase: .allCompute,
    withSixteenBitBase: .allCompute,
    adapters: .float32,
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: false,
    sources: ["modelscope/ms-swift swift/llm/train/tuner.py prepare_adapter"])

  /// Every recipe, in the order help text lists them.
  public static let all: [Recipe] = [.hfPeft, .qloraPaper, .unsloth, .llamaFactory, .msSwift]

  /// The recipe with this name, or nil.
  public static func named(_ name: String) -> Recipe? { all.first { $0.name == name } }
}

extension ModelArchitecture {
  /// peft's default LoRA targets (`target_modules` unset) for the config's own `model_type`, or
  /// nil when peft has none and refuses to guess.
  ///
  /// Source: peft 0.21.2 `utils/constants.py` `TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`,
  /// the entries for the families modelled here. `LoraModel._prepare_adapter_config` looks the
  /// loaded model's `config.model_type` up in it and raises "Please specify `target_modules` or
  /// `target_parameters`" when it is absent: `phi3`, `qwen2_moe`, `qwen3_moe`, `olmo2`,
  /// `glm4_moe`, `gpt_oss`, `gemma3` (the multimodal wrapper; only `gemma3_text` is listed) and
  /// `llama4_text` (the text-only `Llama4ForCausalLM`; only the `llama4` wrapper is listed).
  /// The declared type is what peft sees, also when the config is read as another family.
  public var peftDefaultTargets: [String]? {
    Self.peftDefaultTargetsByModelType[peftModelType]
  }

  /// The `model_type` of the model transformers loads from the config, which peft looks up: the
  /// multimodal wrapper's (`gemma3`, `llama4`) when the language model sits under `text_config`.
  public var peftModelType: String { wrapperModelType ?? modelType }

  static let peftDefaultTargetsByModelType: [String: [String]] = [
    "gpt2": ["c_attn"],
    "llama": ["q_proj", "v_proj"],
    "llama4": ["q_proj", "v_proj"],
    "mistral": ["q_proj", "v_proj"],
    "mixtral": ["q_proj", "v_proj"],
    "gemma": ["q_proj", "v_proj"],
    "gemma2": ["q_proj", "v_proj"],
    "gemma3_text": ["q_proj", "v_proj"],
    "qwen2": ["q_proj", "v_proj"],
    "qwen3": ["q_proj", "v_proj"],
  ]
}

/// The names frameworks use for the settings the estimator models: optimizers, dtypes,
/// attention implementations, torchtune's module and model builder names.
package enum FrameworkVocabulary {
  /// transformers' `OptimizerNames` (TrainingArguments `optim`, LLaMA-Factory `optim`, Axolotl
  /// `optimizer`) to the modelled optimizer; nil for one the estimator does not model.
  package static func optimizer(huggingFace name: String) -> Optimizer? {
    switch name.lowercased() {
    case "adamw_torch", "adamw_torch_fused", "adamw_hf", "adamw_apex_fused", "adamw_torch_xla", "adamw_torch_npu_fused",
      "adamw_anyprecision", "adamw", "adamw_32bit", "adamw_bnb_32bit":
      return .adamw
    case "adamw_bnb_8bit", "adamw_8bit", "bnb_adamw_8bit": return .adamw8bit
    case "paged_adamw_32bit", "paged_adamw": return .pagedAdamw
    case "paged_adamw_8bit": return .pagedAdamw8bit
    case "sgd": return .sgd
    default: return nil
    }
  }

  /// torchtune's `optimizer._component_` to the modelled optimizer; nil when not modelled.
  package static func optimizer(torchtune component: String) -> Optimizer? {
    switch component {
    case "torch.optim.AdamW", "torch.optim.Adam": return .adamw
    case "bitsandbytes.optim.AdamW8bit", "bitsandbytes.optim.Adam8bit": return .adamw8bit
    case "bitsandbytes.optim.PagedAdamW", "bitsandbytes.optim.PagedAdamW32bit": return .pagedAdamw
    case "bitsandbytes.optim.PagedAdamW8bit": return .pagedAdamw8bit
    case "torch.optim.SGD": return .sgd
    default: return nil
    }
  }

  /// `bfloat16`/`bf16`, `float16`/`fp16`/`half`; nil for anything else (fp32 is not a compute
  /// dtype the estimator models).
  package static func computeDtype(_ name: String) -> ComputeDtype? {
    switch name.lowercased().replacingOccurrences(of: "torch.", with: "") {
    case "bfloat16", "bf16": return .bf16
    case "float16", "fp16", "half": return .fp16
    default: return nil
    }
  }

  /// torchtune's module names (`lora_attn_modules`, `apply_lora_to_mlp`) as the Hugging Face
  /// module names the architectures use: `output_proj` is `o_proj`; the MLP's w1/w3/w2 are
  /// gate_proj/up_proj/down_proj.
  package static func torchtuneTargets(attention: [String], mlp: Bool) -> [String] {
    let renamed = attention.map { $0 == "output_proj" ? "o_proj" : $0 }
    return renamed + (mlp ? ["gate_proj", "up_proj", "down_proj"] : [])
  }

  /// A torchtune model builder (the last component of `model._component_`, e.g.
  /// `qlora_llama3_1_8b`): the preset it builds, and whether the base is NF4 (`qlora_`),
  /// 16-bit with LoRA (`lora_`) or fully fine-tuned (no prefix). Nil for a builder with no preset.
  package static func torchtuneBuilder(_ builder: String) -> (preset: String, kind: TorchtuneBuilderKind)? {
    var name = builder
    let kind: TorchtuneBuilderKind
    if name.hasPrefix("qlora_") {
      kind = .qlora
      name.removeFirst(6)
    } else if name.hasPrefix("lora_") {
      kind = .lora
      name.removeFirst(5)
    } else {
      kind = .full
    }
    for suffix in ["_instruct", "_base"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
    guard let preset = torchtunePresets[name] else { return nil }
    return (preset, kind)
  }

  package enum TorchtuneBuilderKind: Hashable, Sendable {
    case qlora, lora, full
  }

  /// torchtune's model builders (torchtune/models/*/_model_builders.py) and the presets with
  /// the same shapes.
  static let torchtunePresets: [String: String] = [
    "llama2_7b": "llama-2-7b", "llama2_13b": "llama-2-13b", "llama2_70b": "llama-2-70b",
    "llama3_8b": "llama-3-8b", "llama3_70b": "llama-3-70b",
    "llama3_1_8b": "llama-3.1-8b", "llama3_1_70b": "llama-3.1-70b", "llama3_1_405b": "llama-3.1-405b",
    "llama3_2_1b": "llama-3.2-1b", "llama3_2_3b": "llama-3.2-3b", "llama3_3_70b": "llama-3.3-70b",
    "mistral_7b": "mistral-7b-v0.1", "gemma_2b": "gemma-2b", "gemma_7b": "gemma-7b",
    "gemma2_2b": "gemma-2-2b", "gemma2_9b": "gemma-2-9b", "gemma2_27b": "gemma-2-27b",
    "phi3_mini": "phi-3-mini-4k", "phi4_14b": "phi-4",
    "qwen2_5_0_5b": "qwen2.5-0.5b", "qwen2_5_1_5b": "qwen2.5-1.5b", "qwen2_5_3b": "qwen2.5-3b",
    "qwen2_5_7b": "qwen2.5-7b", "qwen2_5_14b": "qwen2.5-14b", "qwen2_5_32b": "qwen2.5-32b",
    "qwen2_5_72b": "qwen2.5-72b",
    "qwen3_0_6b": "qwen3-0.6b", "qwen3_1_7b": "qwen3-1.7b", "qwen3_4b": "qwen3-4b", "qwen3_8b": "qwen3-8b",
    "qwen3_14b": "qwen3-14b", "qwen3_32b": "qwen3-32b",
  ]
}

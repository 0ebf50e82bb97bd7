import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// Each framework's spelling of peft's `modules_to_save` sets the one setting.
@Suite struct SavedModulesConfigTests {
  static func setup(_ text: String, _ path: String) throws -> (TrainingSetup, TrainingConfig) {
    let config = try TrainingConfig(data: Data(text.utf8), path: path)
    return (config.setup, config)
  }

  @Test func peftAdapterConfig() throws {
    let (setup, config) = try Self.setup(
      #"{"peft_type": "LORA", "r": 16, "target_modules": ["q_proj", "v_proj"], "modules_to_save": ["embed_tokens", "lm_head"]}"#,
      "adapter_config.json")
    #expect(setup.lora.modulesToSave == ["embed_tokens", "lm_head"])
    #expect(config.used.contains { $0.key.name == "modules_to_save" && $0.key.line == 1 })
  }

  @Test func peftAdapterConfigWithNullModulesSavesNone() throws {
    let (setup, config) = try Self.setup(
      #"{"peft_type": "LORA", "r": 8, "modules_to_save": null}"#, "adapter_config.json")
    #expect(setup.lora.modulesToSave.isEmpty)
    #expect(config.emptyKeys.map(\.name) == ["modules_to_save"])
  }

  @Test func axolotl() throws {
    let yaml =
      "base_model: Qwen/Qwen3-14B\nadapter: qlora\nload_in_4bit: true\nlora_modules_to_save:\n  - embed_tokens\n  - lm_head\n"
    let (setup, config) = try Self.setup(yaml, "qlora.yml")
    #expect(config.format == .axolotl)
    #expect(setup.lora.modulesToSave == ["embed_tokens", "lm_head"])
    #expect(config.used.contains { $0.key.name == "lora_modules_to_save" && $0.key.line == 4 })
  }

  @Test func llamaFactoryAdditionalTarget() throws {
    let yaml = "model_name_or_path: Qwen/Qwen3-14B\nfinetuning_type: lora\nadditional_target: embed_tokens,lm_head\n"
    let (setup, config) = try Self.setup(yaml, "sft.yaml")
    #expect(config.format == .llamaFactory)
    #expect(setup.lora.modulesToSave == ["embed_tokens", "lm_head"])
  }

  @Test func trlModelConfigAndNestedPeftConfig() throws {
    let trl = #"{"model_name_or_path": "Qwen/Qwen3-14B", "max_length": 1024, "lora_modules_to_save": ["lm_head"]}"#
    #expect(try Self.setup(trl, "sft.json").0.lora.modulesToSave == ["lm_head"])
    let nested = #"{"output_dir": "out", "peft_config": {"r": 8, "modules_to_save": ["lm_head"]}}"#
    #expect(try Self.setup(nested, "args.json").0.lora.modulesToSave == ["lm_head"])
  }

  @Test func trainableTokenIndicesAreSaidNotModelled() throws {
    let (_, config) = try Self.setup(
      #"{"peft_type": "LORA", "trainable_token_indices": [0, 1, 2]}"#, "adapter_config.json")
    #expect(config.notModelled.map(\.key.name) == ["trainable_token_indices"])
  }
}

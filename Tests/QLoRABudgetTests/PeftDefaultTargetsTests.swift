import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// `peft-default` is what peft does with `target_modules` unset: it looks the model's
/// `config.model_type` up in `TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING` and raises
/// when the type is absent (peft 0.21.2 `tuners/lora/model.py` `LoraModel._prepare_adapter_config`:
/// "Please specify `target_modules` or `target_parameters`in `peft_config`").
@Suite struct PeftDefaultTargetsTests {
  /// The mapping's entries for the modelled types, copied from peft 0.21.2 `utils/constants.py`
  /// (`python3 -c "from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as m; print(m)"`).
  static let peftMapping: [String: [String]] = [
    "gpt2": ["c_attn"], "llama": ["q_proj", "v_proj"], "llama4": ["q_proj", "v_proj"],
    "mistral": ["q_proj", "v_proj"], "mixtral": ["q_proj", "v_proj"], "gemma": ["q_proj", "v_proj"],
    "gemma2": ["q_proj", "v_proj"], "gemma3_text": ["q_proj", "v_proj"], "qwen2": ["q_proj", "v_proj"],
    "qwen3": ["q_proj", "v_proj"],
  ]

  /// One preset per modelled `model_type` the catalog has, and what peft answers for it.
  @Test(arguments: PresetCatalog.bundled.modelNames)
  func everyPresetGetsPeftsAnswerForItsModelType(_ name: String) throws {
    let model = try PresetCatalog.bundled.model(named: name)
    #expect(model.peftDefaultTargets == Self.peftMapping[model.modelType], "\(model.modelType)")
  }

  @Test(arguments: ["phi3", "qwen2_moe", "qwen3_moe", "olmo2", "glm4_moe", "gpt_oss"])
  func typesPeftHasNoDefaultForAreRefusedNamingTheType(_ modelType: String) throws {
    let preset = try #require(
      PresetCatalog.bundled.modelNames.first { (try? PresetCatalog.bundled.model(named: $0).modelType) == modelType })
    let model = try PresetCatalog.bundled.model(named: preset)
    var setup = TrainingSetup()
    setup.lora = LoRAConfiguration(rank: 16, targets: .peftDefault)
    #expect(throws: SetupError.noPeftDefaultTargets(modelType: modelType, model: preset)) {
      try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    }
    let message = SetupError.noPeftDefaultTargets(modelType: modelType, model: preset).description
    #expect(
      message.contains("'\(modelType)'") && message.contains("all-linear") && message.contains("name the modules"))
    // all-linear and named modules still estimate.
    setup.lora = LoRAConfiguration(rank: 16, targets: .allLinear)
    _ = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
  }

  /// peft reads the loaded model's own `model_type`: a config read as llama keeps its own type.
  @Test func aConfigReadAsAnotherFamilyIsLookedUpByItsOwnType() throws {
    let config: [String: Any] = [
      "model_type": "my_llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
      "intermediate_size": 176, "vocab_size": 100,
    ]
    let data = try JSONSerialization.data(withJSONObject: config)
    let model = try ModelArchitecture(configData: data, name: "custom", readAs: "llama")
    #expect(model.peftDefaultTargets == nil)
    #expect(throws: SetupError.noPeftDefaultTargets(modelType: "my_llama", model: "custom")) {
      try model.adaptedModules(.peftDefault)
    }
    #expect(try model.adaptedModules(.modules(["q_proj", "v_proj"])).map(\.name) == ["q_proj", "v_proj"])
  }
}

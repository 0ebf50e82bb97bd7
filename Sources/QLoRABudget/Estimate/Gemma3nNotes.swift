/// What a Gemma 3n estimate covers and what a working run must do, shown next to the verdict.
enum Gemma3nNotes {
  /// The vision tower (MobileNetV5, 294,126,912 parameters), the audio tower (681,348,640) and the
  /// two multimodal embedders (4,460,544 + 3,345,408) of the published E2B and E4B checkpoints:
  /// `Gemma3nForConditionalGeneration` from `Gemma3nConfig`'s vision and audio defaults on the meta
  /// device (transformers 5.25.0, timm 1.0.31; docs/models.md).
  static let towerParameters: Int64 = 294_126_912 + 681_348_640 + 4_460_544 + 3_345_408

  /// The towers' resident bytes in a 4-bit run of the hf-peft recipe (NF4, double quant, block
  /// 64, fp32 upcast): the vision tower's convolution weights in fp32 (it has no `nn.Linear`),
  /// the audio tower's and the embedders' 135 `Linear4bit`s and their other parameters in fp32
  /// (the same meta-device build, with bitsandbytes' buffer formula applied per weight).
  static let towerFourBitBytes: Int64 = 1_176_507_648 + 352_672_084 + 3_229_764 + 2_422_596

  static func notes(_ model: ModelArchitecture, _ setup: TrainingSetup) -> [String] {
    guard let g = model.layout.gemma3n else { return [] }
    var notes = [towerNote(model, setup)]
    if setup.recipe == .hfPeftTransformers4, g.keyValueSharedLayers > 0 {
      let kv = model.keyValueWidth * model.hiddenSize
      let unused = g.keyValueSharedLayers * (2 * kv + model.headDimension)
      notes.append(
        "Gemma 3n in transformers 4.57: the \(g.keyValueSharedLayers) KV-shared layers also build k_proj, v_proj "
          + "and k_norm they never use (4-bit, and adapted by all-linear), \(NumberText.grouped(unused)) parameters "
          + "not counted here (the estimate follows transformers 5, which builds none; docs/models.md).")
    }
    if setup.effectiveQuantization.isQuantized {
      notes.append(
        "Gemma 3n under bitsandbytes: AltUp clamps correction_coefs' and prediction_coefs' weights in training, "
          + "and quantized they fail the first forward (transformers 5.25 and 4.57.1). Estimated as a working run "
          + "that keeps them out: llm_int8_skip_modules=[\"correction_coefs\", \"prediction_coefs\", \"lm_head\"] "
          + "(docs/models.md).")
    }
    if !setup.usesGradientCheckpointing {
      notes.append(
        "Gemma 3n without gradient checkpointing: each layer also saves its AltUp and Laurel tensors (several "
          + "copies of the hidden state), which the estimate does not count: the activations are an underestimate here "
          + "(validated with checkpointing only; docs/models.md).")
    }
    return notes
  }

  /// The towers: counted when the config is the multimodal one, else what loading it would add.
  private static func towerNote(_ model: ModelArchitecture, _ setup: TrainingSetup) -> String {
    guard model.wrapperModelType == "gemma3n" else {
      return "Gemma 3n: a text-only config (Gemma3nForCausalLM). The Hub checkpoints (model_type gemma3n) load "
        + "as Gemma3nForConditionalGeneration, whose vision and audio towers add "
        + "\(NumberText.grouped(towerParameters)) parameters (about "
        + "\(ByteCount(towerFourBitBytes).formatted(.decimal)) resident under NF4 with double quant and the fp32 "
        + "upcast; docs/models.md)."
    }
    let adapted = (try? model.adaptedModules(setup.lora.targets, roles: setup.recipe.linearRoles)) ?? []
    let towers = adapted.filter { $0.path.hasPrefix("audio_tower.") }
    let lora = model.loraTensors(on: towers, configuration: setup.lora, dtype: .float32).reduce(0) { $0 + $1.elements }
    let unused =
      setup.isFullFineTune || lora == 0
      ? ""
      : " LoRA adapts \(NumberText.grouped(lora)) parameters in the audio tower, which get no gradient with text-only "
        + "batches: their gradients and optimizer state are counted anyway (over by at most "
        + "\(ByteCount.elements(lora, bytesEach: 12).formatted(.decimal)) in fp32 AdamW)."
    return "Gemma 3n: the vision and audio towers are counted as resident weights (they load with "
      + "Gemma3nForConditionalGeneration); with text-only batches they do not run, but their two embedders run on "
      + "every token and are counted.\(unused) (docs/models.md)"
  }
}

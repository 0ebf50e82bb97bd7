/// What a Gemma 3n estimate covers and what a working run must do, shown next to the verdict.
enum Gemma3nNotes {
  /// The vision tower (MobileNetV5, 294,126,912 parameters), the audio tower (681,348,640) and the
  /// two multimodal embedders (4,460,544 + 3,345,408) of the published E2B and E4B checkpoints:
  /// `Gemma3nForConditionalGeneration` from `Gemma3nConfig`'s vision and audio defaults on the meta
  /// device (transformers 5.25.0, timm 1.0.31; docs/models.md).
  static let towerParameters: Int64 = 294_126_912 + 681_348_640 + 4_460_544 + 3_345_408

  static func notes(_ model: ModelArchitecture, _ setup: TrainingSetup) -> [String] {
    guard model.layout.gemma3n != nil else { return [] }
    var notes = [
      "Gemma 3n: this is the text model. The Hub checkpoints load as Gemma3nForConditionalGeneration, whose vision "
        + "and audio towers add \(NumberText.grouped(towerParameters)) parameters not counted here (at most "
        + "\(ByteCount.elements(towerParameters, bytesEach: 4).formatted(.decimal)) if all stayed fp32; peft's all-linear "
        + "also adapts the audio tower's Linears) (docs/models.md)."
    ]
    if setup.effectiveQuantization.isQuantized {
      notes.append(
        "Gemma 3n under bitsandbytes: AltUp clamps correction_coefs' and prediction_coefs' weights in training, and "
          + "quantized they fail the first forward (transformers 5.25). Estimated as a working run that keeps them out: "
          + "llm_int8_skip_modules=[\"correction_coefs\", \"prediction_coefs\", \"lm_head\"] (docs/models.md).")
    }
    if !setup.usesGradientCheckpointing {
      notes.append(
        "Gemma 3n without gradient checkpointing: each layer also saves its AltUp and Laurel tensors (several copies of "
          + "the hidden state), which the estimate does not count: the activations are an underestimate here "
          + "(validated with checkpointing only; docs/models.md).")
    }
    return notes
  }
}

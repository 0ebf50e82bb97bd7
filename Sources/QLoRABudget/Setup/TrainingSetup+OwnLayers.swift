extension TrainingSetup {
  /// Whether `model`'s decoder layers run the recipe's own layers instead of transformers'
  /// (``Recipe/fusedKernelModelTypes``): Unsloth's `FastLlamaModel`, which loads only 4- and
  /// 16-bit LoRA of a plain (not wrapped, not read as another family) model with two RMSNorms a
  /// layer; 8-bit loading and full fine-tuning go to `FastModel` (transformers' layers).
  public func runsOwnLayers(of model: ModelArchitecture) -> Bool {
    recipe.fusedKernelModelTypes.contains(model.modelType) && model.readAs == nil && model.wrapperModelType == nil
      && !isFullFineTune && effectiveQuantization != .int8 && model.layout.normsPerLayer.count == 2
      && !model.layout.normHasBias
  }

  /// The attention the estimate models for `model`: ``attention``, except xformers where the
  /// model's layers are transformers' (any recipe without own layers, or a model type the recipe
  /// does not run through them): there SDPA, since transformers has no xformers attention (xformers
  /// installed changes nothing there) and Unsloth's `FastModel` asks for SDPA when flash-attn is
  /// not installed (`models/_utils.py`).
  public func attention(for model: ModelArchitecture) -> AttentionImplementation {
    attention == .xformers && !runsOwnLayers(of: model) ? .sdpa : attention
  }
}

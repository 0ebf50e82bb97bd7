extension ModelArchitecture {
  /// The model as the recipe's framework builds it: with its own lm_head when the config ties it
  /// to the token embedding but the framework's model always has a separate output linear
  /// (``FrameworkModelCode/ownsOutputHead``: LitGPT's conversion copies the embedding into
  /// `lm_head.weight`). Gemma 3n, whose inventory is its own, is left as it is.
  func built(by recipe: Recipe) -> ModelArchitecture {
    guard recipe.modelCode?.ownsOutputHead == true, tiesWordEmbeddings, layout.gemma3n == nil else { return self }
    var untied = ModelArchitecture(
      name: name, type: DeclaredType(declared: modelType, readAs: readAs), hiddenSize: hiddenSize,
      layerCount: layerCount, attentionHeadCount: attentionHeadCount, keyValueHeadCount: keyValueHeadCount,
      headDimension: headDimension, intermediateSize: intermediateSize, vocabularySize: vocabularySize,
      tiesWordEmbeddings: false, layout: layout)
    untied.wrapperModelType = wrapperModelType
    untied.trainedContextLength = trainedContextLength
    untied.checkpointQuantization = checkpointQuantization
    return untied
  }
}

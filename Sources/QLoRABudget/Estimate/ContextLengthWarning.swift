/// A sequence longer than the positions the model was built for (its config's
/// `max_position_embeddings`): the bytes are counted as asked, since memory does not depend on
/// it, but the model has not seen those positions; training there needs RoPE scaling (or the
/// model's long-context variant). Said among the warnings so that a planner's largest sequence
/// length is not read as one the model supports.
enum ContextLengthWarning {
  static func warnings(_ model: ModelArchitecture, _ setup: TrainingSetup) -> [String] {
    guard let positions = model.trainedContextLength, setup.sequenceLength > positions else { return [] }
    let g = NumberText.grouped
    return [
      "sequence length \(g(setup.sequenceLength)) is beyond the \(g(positions)) positions the model was built for "
        + "(max_position_embeddings): the memory is counted as asked, but training at this length needs RoPE scaling"
    ]
  }
}

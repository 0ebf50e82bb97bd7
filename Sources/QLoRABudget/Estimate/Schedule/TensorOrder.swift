/// The order tensors of a model are created in, layer by layer.
enum TensorOrder {
  /// The tensors of `groups` layer-major: the first tensor of every group, then the second, ...
  /// (peft registers each module's lora_A and lora_B layer after layer; the optimizer walks
  /// `model.parameters()` in that order). Each entry is one tensor's bytes.
  static func layerMajor(_ groups: [TrainableTensorGroup]) -> [ByteCount] {
    let longest = groups.map(\.tensorCount).max() ?? 0
    var sizes: [ByteCount] = []
    for index in 0..<longest {
      for group in groups where index < group.tensorCount {
        sizes.append(.elements(group.elementsPerTensor, bytesEach: group.dtype.byteWidth))
      }
    }
    return sizes
  }
}

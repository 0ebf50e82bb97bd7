/// The order tensors of a model are created in, layer by layer.
enum TensorOrder {
  /// The tensors of `groups` layer-major: the first tensor of every group, then the second, ...
  /// (peft registers each module's lora_A and lora_B layer after layer; the optimizer walks
  /// `model.parameters()` in that order). Each entry is one tensor's bytes.
  static func layerMajor(_ groups: [TrainableTensorGroup]) -> [ByteCount] {
    let longest = groups.map(\.tensorCount).max() ?? 0
    let each = groups.map { ByteCount.elements($0.elementsPerTensor, bytesEach: $0.dtype.byteWidth) }
    var sizes: [ByteCount] = []
    sizes.reserveCapacity(Int(groups.reduce(0) { $0 + min(max($1.tensorCount, 0), 1 << 22) }))
    for index in 0..<longest {
      for (group, bytes) in zip(groups, each) where index < group.tensorCount { sizes.append(bytes) }
    }
    return sizes
  }
}

/// The bytes that follow the trainable parameters: the adapters (or, for full fine-tuning,
/// nothing extra: the weights are trained in place), their gradients and the optimizer state.
enum TrainableState {
  /// The adapters and, beside them, the modules_to_save copies (`saved`, also in `tensors`).
  static func adapters(_ tensors: [TrainableTensorGroup], _ setup: TrainingSetup, saved: SavedModuleCopies)
    -> MemoryComponent
  {
    guard !setup.isFullFineTune else {
      return MemoryComponent(
        .adapters, lifetime: .resident, bytes: .zero,
        formula: "full fine-tuning: no adapters; the weights themselves are trained", source: "")
    }
    let elements = tensors.reduce(0) { $0 + $1.elements } - saved.elements
    let dtype = tensors.first?.dtype ?? .float32
    let lora = setup.lora
    return MemoryComponent(
      .adapters, lifetime: .resident, bytes: ByteCount.sum(tensors.lazy.map(\.bytes)),
      formula: "\(NumberText.grouped(elements)) params = sum over adapted modules of r*(in+out)"
        + (lora.usesDoRA ? " + out (DoRA magnitude)" : "")
        + (tensors.contains { $0.isReadThroughViews }
          ? " and over adapted expert stacks of r*E*(in+out) (peft target_parameters; gate_up_proj at 2r)" : "")
        + ", r = \(lora.rank); x \(dtype.byteWidth) B (\(dtype.rawValue))"
        + (saved.formula.map { "; + " + $0 } ?? ""),
      source: "peft tuners/lora/layer.py (lora_A: r x in, lora_B: out x r); recipe '\(setup.recipe.name)' adapter dtype"
        + (saved.tensors.isEmpty
          ? "" : "; peft utils/other.py ModulesToSaveWrapper (copy.deepcopy after prepare_model_for_kbit_training)"))
  }

  /// One gradient per trainable element, in the parameter's dtype; alive from backward until
  /// `zero_grad(set_to_none=True)` after the optimizer step.
  static func gradients(_ tensors: [TrainableTensorGroup]) -> MemoryComponent {
    var byDtype: [(dtype: TensorDtype, elements: Int64)] = tensors.isEmpty ? [(.float32, 0)] : []
    for tensor in tensors {
      if let index = byDtype.firstIndex(where: { $0.dtype == tensor.dtype }) {
        byDtype[index].elements += tensor.elements
      } else {
        byDtype.append((tensor.dtype, tensor.elements))
      }
    }
    let terms = byDtype
    return MemoryComponent(
      .gradients, lifetime: .transient, bytes: ByteCount.sum(tensors.lazy.map(\.bytes)),
      formula: terms.map {
        "\(NumberText.grouped($0.elements)) trainable params x \($0.dtype.byteWidth) B (\($0.dtype.rawValue) .grad)"
      }
      .joined(separator: " + "),
      source: "PyTorch autograd: .grad matches the parameter's dtype; freed by zero_grad(set_to_none=True)")
  }

  /// Optimizer state split into the part on the GPU and the part paged to host memory.
  static func optimizerState(_ tensors: [TrainableTensorGroup], _ optimizer: Optimizer) -> [MemoryComponent] {
    let split = OptimizerStateLayout(tensors: tensors, optimizer: optimizer)
    var components = [
      MemoryComponent(
        .optimizerState, device: .gpu, lifetime: .resident, bytes: split.gpu,
        formula: split.gpuFormula, source: OptimizerStateLayout.source)
    ]
    if optimizer.isPaged {
      components.append(
        MemoryComponent(
          .optimizerState, device: .host, lifetime: .resident, bytes: split.paged,
          formula: split.pagedFormula, source: OptimizerStateLayout.source))
    }
    return components
  }
}

/// Turns a model and a training setup into a ``MemoryEstimate``. Pure: no I/O, no printing.
///
///     let model = try PresetCatalog.bundled.model(named: "qwen3-14b")
///     var setup = TrainingSetup()
///     setup.lora.rank = 32
///     let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
///     estimate.residentBytes   // exact resident GPU bytes
public enum MemoryEstimator {
  public static func estimate(
    model: ModelArchitecture, setup: TrainingSetup, gpu: GPU?
  ) throws(SetupError) -> MemoryEstimate {
    try setup.validate()
    let trainable = try trainableTensors(model, setup)
    var components = [
      BaseWeights.quantized(model, setup),
      BaseWeights.unquantized(model, setup),
      TrainableState.adapters(trainable, setup),
      TrainableState.gradients(trainable),
    ]
    components += TrainableState.optimizerState(trainable, setup.optimizer)
    components += notYetModelled
    if let overflowed = components.first(where: { $0.bytes?.isOverflow == true }) {
      throw .overflow(component: overflowed.kind.label.lowercased())
    }
    return MemoryEstimate(
      model: model, setup: setup, gpu: gpu, components: components,
      trainableParameters: trainable.reduce(0) { $0 + $1.elements }, peak: nil,
      assumptions: assumptions(setup), warnings: model.warnings)
  }

  /// The tensors the optimizer updates: LoRA adapters, or every parameter for full fine-tuning.
  static func trainableTensors(_ model: ModelArchitecture, _ setup: TrainingSetup) throws(SetupError) -> [TrainableTensorGroup] {
    if setup.isFullFineTune {
      return model.allParameterTensors(dtype: setup.computeDtype.tensorDtype)
    }
    let modules = try model.adaptedModules(setup.lora.targets, roles: setup.recipe.linearRoles)
    return model.loraTensors(
      on: modules, configuration: setup.lora, dtype: setup.recipe.adapters.resolved(setup.computeDtype))
  }

  /// The transient part of the step, until the activation model lands: shown, never guessed.
  private static let notYetModelled: [MemoryComponent] = [
    MemoryComponent.Kind.activations, .logits, .dequantBuffers, .runtime, .allocatorReserve,
  ].map { MemoryComponent($0, lifetime: .transient, bytes: nil, formula: "not yet modelled", source: "") }

  private static func assumptions(_ setup: TrainingSetup) -> [String] {
    var lines = ["recipe \(setup.recipe.name): \(setup.recipe.summary)"]
    if setup.isFullFineTune {
      lines.append("full fine-tuning: weights and gradients in \(setup.computeDtype.rawValue), "
        + "optimizer moments in fp32 (no fp32 master copy; HF Trainer loading in fp32 would add 4 B/param)")
    }
    lines.append("gradient checkpointing " + (setup.usesGradientCheckpointing ? "on" : "off"))
    return lines
  }
}

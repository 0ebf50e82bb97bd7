import QLoRABudget

/// The `--json` object of `fit` and `estimate`: the library's contract with scripts
/// (documented field by field in docs/cli.md). Bytes are integers; null means not modelled.
enum EstimateJSON {
  static func object(_ estimate: MemoryEstimate) -> JSONOutput {
    let setup = estimate.setup
    let peak = estimate.peak
    var headroom: JSONOutput = .null
    if let gpu = estimate.gpu, let peak {
      headroom = .integer(gpu.capacity.bytes - peak.process.bytes)
    }
    return .object([
      ("model", .object([
        ("name", .string(estimate.model.name)),
        ("model_type", .string(estimate.model.modelType)),
        ("parameters", .integer(estimate.model.parameterCount)),
      ])),
      ("setup", self.setup(setup)),
      ("components", .array(estimate.components.map(component))),
      ("trainable_parameters", .integer(estimate.trainableParameters)),
      ("resident_bytes", .bytes(estimate.residentBytes)),
      ("peak_allocated_bytes", .bytes(peak?.allocated)),
      ("peak_reserved_bytes", .bytes(peak?.reserved)),
      ("peak_process_bytes", .bytes(peak?.process)),
      ("peak_phase", peak.map { .string($0.phase) } ?? .null),
      ("step", estimate.step.map { step in
        .object([
          ("platform", .string(setup.platform.rawValue)),
          ("saved_for_backward_bytes", .bytes(step.savedForBackward)),
          ("phases", .object(step.phases.map { ($0.name, .bytes($0.bytes)) })),
        ])
      } ?? .null),
      ("host_bytes", .bytes(estimate.hostBytes)),
      ("gpu", estimate.gpu.map(gpu) ?? .null),
      ("headroom_bytes", headroom),
      ("verdict", estimate.verdict.map { .string($0.rawValue) } ?? .null),
      ("assumptions", .array(estimate.assumptions.map { .string($0) })),
      ("warnings", .array(estimate.warnings.map { .string($0) })),
    ])
  }

  static func setup(_ setup: TrainingSetup) -> JSONOutput {
    .object([
      ("quant", .string(setup.effectiveQuantization.rawValue)),
      ("double_quant", .bool(setup.usesDoubleQuantization)),
      ("blocksize", .integer(setup.blockSize)),
      ("rank", .integer(setup.lora.rank)),
      ("alpha", .number(setup.lora.alpha)),
      ("targets", .string(setup.lora.targets.description)),
      ("dora", .bool(setup.lora.usesDoRA)),
      ("lora_dropout", .number(setup.lora.dropout)),
      ("optimizer", .string(setup.optimizer.rawValue)),
      ("dtype", .string(setup.computeDtype.rawValue)),
      ("recipe", .string(setup.recipe.name)),
      ("seq_len", .integer(setup.sequenceLength)),
      ("batch", .integer(setup.batchSize)),
      ("grad_ckpt", .bool(setup.usesGradientCheckpointing)),
      ("attn", .string(setup.attention.rawValue)),
      ("autocast", .bool(setup.usesAutocast)),
      ("loss", .string(setup.lossImplementation?.rawValue ?? "standard")),
      ("loop", .string(setup.trainingLoop.rawValue)),
      ("platform", .string(setup.platform.rawValue)),
      ("gpus", .integer(setup.gpuCount)),
      ("full_finetune", .bool(setup.isFullFineTune)),
    ])
  }

  static func component(_ component: MemoryComponent) -> JSONOutput {
    .object([
      ("id", .string(component.kind.rawValue)),
      ("device", .string(component.device.rawValue)),
      ("lifetime", .string(component.lifetime.rawValue)),
      ("bytes", .bytes(component.bytes)),
      ("formula", .string(component.formula)),
      ("source", .string(component.source)),
    ])
  }

  static func gpu(_ gpu: GPU) -> JSONOutput {
    .object([
      ("name", .string(gpu.name)),
      ("display_name", .string(gpu.displayName)),
      ("capacity_bytes", .integer(gpu.capacity.bytes)),
    ])
  }
}

/// A group of identical trainable tensors (e.g. the `lora_A` of every `q_proj`).
///
/// Optimizers treat tensors one by one (bitsandbytes' 4,096- and 100,000-element rules), so
/// the estimator keeps tensors grouped by shape rather than as one parameter total.
package struct TrainableTensorGroup: Hashable, Sendable {
  /// The owning module's path and the tensor's name in it (`.lora_A`, `.weight`, or empty),
  /// joined only when ``path`` is read: estimates are made by the thousand.
  private let module: String
  private let tensor: String
  public let elementsPerTensor: Int64
  public let tensorCount: Int64
  public let dtype: TensorDtype
  /// Whether the step reads the tensor only through views (peft's adapters on a fused expert
  /// stack, reshaped per expert), so autocast never caches a cast of it (it caches leaves only).
  let isReadThroughViews: Bool

  init(
    module: String, tensor: String = "", elementsPerTensor: Int64, tensorCount: Int64, dtype: TensorDtype,
    isReadThroughViews: Bool = false
  ) {
    self.module = module
    self.tensor = tensor
    self.elementsPerTensor = elementsPerTensor
    self.tensorCount = tensorCount
    self.dtype = dtype
    self.isReadThroughViews = isReadThroughViews
  }

  /// e.g. `self_attn.q_proj.lora_A`.
  public var path: String { module + tensor }

  // The tests below read ``path`` in its two parts: every estimate asks them of every group, and
  // joining the path (a heap string) for each question, and comparing it, were about a quarter of
  // the allocated walk's samples (docs/performance.md, "A byte-only walk"). Paths are ASCII: their UTF-8 counts are their
  // character counts.

  /// Whether ``path`` is `other`.
  func pathIs(_ other: String) -> Bool {
    other.utf8.count == module.utf8.count + tensor.utf8.count && other.hasPrefix(module) && other.hasSuffix(tensor)
  }

  /// Whether ``path`` starts with `prefix`.
  func pathHasPrefix(_ prefix: String) -> Bool {
    let beyondModule = prefix.utf8.count - module.utf8.count
    guard beyondModule > 0 else { return module.hasPrefix(prefix) }
    return prefix.hasPrefix(module) && tensor.hasPrefix(prefix.suffix(beyondModule))
  }

  /// Whether ``path`` ends with `suffix`.
  func pathHasSuffix(_ suffix: String) -> Bool {
    let beyondTensor = suffix.utf8.count - tensor.utf8.count
    guard beyondTensor > 0 else { return tensor.hasSuffix(suffix) }
    return suffix.hasSuffix(tensor) && module.hasSuffix(suffix.prefix(beyondTensor))
  }

  public var elements: Int64 { elementsPerTensor * tensorCount }

  /// The same tensors in another dtype (DeepSpeed's optimizer steps an fp32 copy of them).
  func retyped(_ dtype: TensorDtype) -> TrainableTensorGroup {
    TrainableTensorGroup(
      module: module, tensor: tensor, elementsPerTensor: elementsPerTensor, tensorCount: tensorCount, dtype: dtype,
      isReadThroughViews: isReadThroughViews)
  }
  public var bytes: ByteCount { .elements(elements, bytesEach: dtype.byteWidth) }
}

extension ModelArchitecture {
  /// The linear modules LoRA adapts for `targets`, among the modules that are `nn.Linear`
  /// in the recipe's framework (`roles`; MoE experts are fused parameters in transformers 5).
  ///
  /// - Throws: ``SetupError/unknownTargetModule(name:model:available:)`` when a named module
  ///   is not a linear layer of this model (peft raises `ValueError` the same way);
  ///   ``SetupError/noPeftDefaultTargets(modelType:model:)`` for peft's default targets when peft
  ///   has none for the model's type (``ModelArchitecture/peftDefaultTargets``).
  package func adaptedModules(
    _ targets: LoRATargets, roles: Set<LinearModule.Role> = Recipe.hfPeft.linearRoles
  ) throws(SetupError) -> [LinearModule] {
    // peft's all-linear matches nn.Linear subclasses (isinstance) that a recipe may leave unquantized.
    let candidates = inventory.linears(in: roles.union(LinearModule.Role.alwaysAdapted))
    let names: Set<String>
    switch targets {
    case .allLinear:
      guard !candidates.isEmpty else { throw .noTargetModules(model: name) }
      return candidates
    case .peftDefault:
      guard let defaults = peftDefaultTargets else {
        throw .noPeftDefaultTargets(modelType: peftModelType, model: name)
      }
      names = Set(defaults)
    case .modules(let requested):
      let available = ModuleInventory.names(of: candidates)
      for name in requested where !available.contains(name) {
        throw .unknownTargetModule(name: name, model: self.name, available: available)
      }
      names = Set(requested)
    }
    let adapted = candidates.filter { names.contains($0.name) }
    guard !adapted.isEmpty else { throw .noTargetModules(model: name) }
    return adapted
  }

  /// The trainable tensors of LoRA on `modules`: `lora_A` (`r x in`), `lora_B` (`out x r`), and
  /// with DoRA the magnitude vector (`out`), per adapted module instance.
  package func loraTensors(
    on modules: [LinearModule], configuration lora: LoRAConfiguration, dtype: TensorDtype
  ) -> [TrainableTensorGroup] {
    modules.flatMap { module -> [TrainableTensorGroup] in
      var groups = [
        TrainableTensorGroup(
          module: module.path, tensor: ".lora_A", elementsPerTensor: lora.rank * module.inFeatures,
          tensorCount: module.instanceCount, dtype: dtype),
        TrainableTensorGroup(
          module: module.path, tensor: ".lora_B", elementsPerTensor: module.outFeatures * lora.rank,
          tensorCount: module.instanceCount, dtype: dtype),
      ]
      if lora.usesDoRA {
        groups.append(
          TrainableTensorGroup(
            module: module.path, tensor: ".lora_magnitude_vector", elementsPerTensor: module.outFeatures,
            tensorCount: module.instanceCount, dtype: dtype))
      }
      return groups
    }
  }

  /// The trainable tensors of LoRA on `parameters` (peft's `ParamWrapper`, ``AdaptedParameter``):
  /// per instance `lora_A` (`rank x E x in`) and `lora_B` (`out x rank x E`), at the parameter's
  /// own rank (`2r` for a fused `gate_up_proj`). peft casts them to the parameter's dtype
  /// (`_move_adapter_to_device_of_base_layer`), then, as every adapter, to fp32
  /// (`autocast_adapter_dtype`): `dtype` is the recipe's adapter dtype, as for modules.
  package func loraTensors(
    on parameters: [AdaptedParameter], rank: Int64, dtype: TensorDtype
  ) -> [TrainableTensorGroup] {
    parameters.flatMap { parameter -> [TrainableTensorGroup] in
      let width = saturatingProduct(saturatingProduct(rank, parameter.rankMultiple), parameter.expertCount)
      return [
        TrainableTensorGroup(
          module: parameter.path, tensor: ".lora_A",
          elementsPerTensor: saturatingProduct(width, parameter.inFeatures), tensorCount: parameter.instanceCount,
          dtype: dtype, isReadThroughViews: parameter.expertCount > 1),
        TrainableTensorGroup(
          module: parameter.path, tensor: ".lora_B",
          elementsPerTensor: saturatingProduct(parameter.outFeatures, width), tensorCount: parameter.instanceCount,
          dtype: dtype, isReadThroughViews: parameter.expertCount > 1),
      ]
    }
  }

  /// Every parameter tensor, for full fine-tuning.
  package func allParameterTensors(dtype: TensorDtype) -> [TrainableTensorGroup] {
    var groups: [TrainableTensorGroup] = []
    for module in inventory.linears {
      groups.append(
        .init(
          module: module.path, tensor: ".weight", elementsPerTensor: module.weightElements,
          tensorCount: module.instanceCount, dtype: dtype))
      if module.hasBias {
        groups.append(
          .init(
            module: module.path, tensor: ".bias", elementsPerTensor: module.outFeatures,
            tensorCount: module.instanceCount, dtype: dtype))
      }
    }
    for norm in inventory.norms {
      groups.append(
        .init(module: norm.path, elementsPerTensor: norm.elements, tensorCount: norm.instanceCount, dtype: dtype))
    }
    for (path, elements) in [
      ("embed_tokens", inventory.tokenEmbeddingElements), ("embed_positions", inventory.positionEmbeddingElements),
      ("lm_head", inventory.lmHeadElements),
    ] where elements > 0 {
      groups.append(.init(module: path, elementsPerTensor: elements, tensorCount: 1, dtype: dtype))
    }
    return groups
  }
}

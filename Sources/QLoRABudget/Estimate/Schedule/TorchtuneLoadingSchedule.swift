/// Model init on one GPU as torchtune 0.1 (2024-04, `torchtune` 0914d5cfb, torchao 0.1) does
/// it, for a QLoRA model whose every 4-bit linear is a LoRA target (torchtune then quantizes
/// exactly those):
///
/// 1. `recipes/lora_finetune_single_device.py` `_setup_model`: the model is instantiated under
///    `utils.set_default_dtype(bf16)` and the CUDA device context, so every parameter is made on
///    the GPU. `models/llama2/_component_builders.py` `lora_llama2` builds one decoder layer:
///    each `LoRALinear` (`modules/peft/lora.py` `_create_weight_and_bias`) makes an
///    `nn.Linear` (a bf16 weight), quantizes it with `to_nf4(linear.weight)`, drops the bf16
///    weight, then makes `lora_a` and `lora_b` (attention q, k, v, output_proj, then the MLP's
///    gate, down, up: `lora_llama2_mlp`'s order). Then `tok_embeddings` and `output` (bf16).
/// 2. `TransformerDecoder.__init__` (`modules/transformer.py` `_get_clones`):
///    `copy.deepcopy(layer)` once per layer, parameters before submodules. PyTorch's
///    `Tensor.__deepcopy__` clones a wrapper subclass (no storage) with `self.clone()`, which
///    torchtune's `utils/_register_nf4_dispatch_ops.py` implements as
///    `to_nf4(weight.get_original_weight())`, then deep-copies the tensor's `__dict__`: a copy of
///    each kept buffer, after which the clone's own buffers are dropped. The adapters are plain
///    parameter copies. The template layer is dropped when `lora_llama2` returns.
/// 3. `model.load_state_dict(state_dict)`, the checkpoint on the CPU
///    (`_checkpointer_utils.py` `safe_torch_load`, `map_location="cpu"`), module by module:
///    torchtune's `inplace_copy` for `aten.copy_` makes `to_nf4(cpu_tensor.to(device))` (a GPU
///    copy of the checkpoint tensor, quantized) and replaces the weight's buffers with the new
///    ones (the old ones dropped). The 16-bit parameters are copied in place (no allocation).
///
/// Each quantization and dequantization is ``TorchAO01Quantization``'s op sequence. The
/// checkpoint copy is taken in the load width (the compute dtype); an fp16 checkpoint
/// (Llama-2-7b-hf) adds to_nf4's `.to(torch.bfloat16)` copy beside it during the load, after
/// the deep copies have set the reserve. Norms and the rest of the 16-bit component are
/// summarised at the end like ``LoadingSchedule``'s (the totals are the resident components'
/// bytes exactly); torchtune's per-layer rotary caches (`max_seq_len x head_dim` fp32) are not
/// in the components. Neither changes row 056's model-init reserve in the allocator study's
/// replay (Tests/Calibration/allocator/torchtune01_init.py: 9.133 GB in every variant).
struct TorchtuneLoadingSchedule {
  let model: ModelArchitecture
  let setup: TrainingSetup
  let trainable: [TrainableTensorGroup]

  /// One 4-bit linear of a layer: its quantization and its adapters' bytes.
  private struct Module {
    var quantization: TorchAO01Quantization
    var loraA: ByteCount
    var loraB: ByteCount
  }

  /// The layer's 4-bit linears in torchtune's build order, or nil when this model is not what
  /// torchtune 0.1 builds the resident components from (a linear without adapters, a 4-bit
  /// lm_head, another 4-bit layout, modules that are not one per layer).
  private func modules(resident: [MemoryComponent]) -> [Module]? {
    let layers = model.layerCount
    guard setup.effectiveQuantization.isFourBit, setup.recipe.fourBitLayout == .torchao01, layers > 0,
      BaseWeights.outputHead(model, setup) == nil
    else { return nil }
    let linears = Self.buildOrder(model.inventory.linears(in: setup.recipe.linearRoles))
    var modules: [Module] = []
    for linear in linears {
      guard linear.instanceCount == layers,
        let a = trainable.first(where: { $0.pathIs(linear.path + ".lora_A") }),
        let b = trainable.first(where: { $0.pathIs(linear.path + ".lora_B") }),
        a.tensorCount == layers, b.tensorCount == layers
      else { return nil }
      let quantization = TorchAO01Quantization(
        elements: linear.weightElements, dtype: setup.computeDtype.tensorDtype, blockSize: setup.blockSize)
      modules.append(
        Module(
          quantization: quantization, loraA: .elements(a.elementsPerTensor, bytesEach: a.dtype.byteWidth),
          loraB: .elements(b.elementsPerTensor, bytesEach: b.dtype.byteWidth)))
    }
    func bytes(_ kind: MemoryComponent.Kind) -> ByteCount {
      ByteCount.sum(resident.filter { $0.kind == kind }.map(\.bytes))
    }
    let perLayerQuantized = ByteCount.sum(modules.map(\.quantization.buffers.total))
    let perLayerAdapters = ByteCount.sum(modules.map { $0.loraA + $0.loraB })
    guard !modules.isEmpty, layers * perLayerQuantized == bytes(.quantizedWeights),
      layers * perLayerAdapters == bytes(.adapters), ByteCount.sum(tables) <= bytes(.unquantizedWeights)
    else { return nil }
    return modules
  }

  /// `tok_embeddings` and an untied `output`, in the embeddings' dtype.
  private var tables: [ByteCount] {
    let width = setup.unquantizedDtypes.embeddings.resolved(setup.computeDtype).byteWidth
    return [model.inventory.tokenEmbeddingElements, model.inventory.lmHeadElements].map {
      ByteCount.elements($0, bytesEach: width)
    }
  }

  /// torchtune's order within a layer: the attention projections as the model lists them, then
  /// the MLP's `FeedForward(gate_proj, down_proj, up_proj)`.
  static func buildOrder(_ linears: [LinearModule]) -> [LinearModule] {
    let feedForward = ["gate_proj": 0, "down_proj": 1, "up_proj": 2]
    let attention = linears.filter { $0.input.isAttention }
    let rest = linears.filter { !$0.input.isAttention }
    return attention
      + rest.enumerated().sorted {
        (feedForward[$0.element.name] ?? 3, $0.offset) < (feedForward[$1.element.name] ?? 3, $1.offset)
      }.map(\.element)
  }

  /// Emits model init; false (nothing emitted) when the model is not one torchtune 0.1 builds
  /// this way, for ``LoadingSchedule`` to emit instead.
  func emit(into schedule: inout AllocationSchedule, resident: [MemoryComponent]) -> Bool {
    guard let modules = modules(resident: resident) else { return false }
    let layers = Int(model.layerCount)
    let width = setup.computeDtype.tensorDtype.byteWidth
    // 1. The template layer, each weight quantized as it is made.
    var template: [Int32] = []
    for module in modules {
      let weight = schedule.allocate(.elements(module.quantization.elements, bytesEach: width), .stagingCopy)
      template += module.quantization.quantize(into: &schedule)
      schedule.free(weight)
      template += [schedule.allocate(module.loraA, .adapter), schedule.allocate(module.loraB, .adapter)]
    }
    let tables = tables
    for table in tables { schedule.allocate(table, .unquantizedWeight) }
    // 2. The deep copies, layer by layer; the template dropped.
    var weights: [[[Int32]]] = []
    for _ in 0..<layers {
      weights.append(
        modules.map { module in
          let dequantized = module.quantization.dequantize(into: &schedule)
          let clone = module.quantization.quantize(into: &schedule)
          schedule.free(dequantized)
          let copies = module.quantization.keptSizes.map { schedule.allocate($0, .quantizedWeight) }
          schedule.free(clone)
          schedule.allocate(module.loraA, .adapter)
          schedule.allocate(module.loraB, .adapter)
          return copies
        })
    }
    schedule.free(template)
    // 3. load_state_dict: each 4-bit weight quantized from a GPU copy of the checkpoint tensor.
    for layer in 0..<layers {
      for (index, module) in modules.enumerated() {
        let copy = schedule.allocate(.elements(module.quantization.elements, bytesEach: width), .stagingCopy)
        let loaded = module.quantization.quantize(into: &schedule)
        schedule.free(copy)
        schedule.free(weights[layer][index])
        weights[layer][index] = loaded
      }
    }
    let unquantized = ByteCount.sum(resident.filter { $0.kind == .unquantizedWeights }.map(\.bytes))
    schedule.allocate(unquantized - ByteCount.sum(tables), .unquantizedWeight)
    return true
  }
}

/// The frozen base model's resident bytes: the quantized decoder linear weights and the
/// tensors bitsandbytes leaves unquantized.
enum BaseWeights {
  /// The decoder's linear weights as bitsandbytes stores them.
  ///
  /// - 4-bit: per weight ``FourBitWeightBuffers`` (packed codes + quant state).
  /// - int8 (`Linear8bitLt`): `n` int8 bytes + one fp32 scale (SCB) per output row.
  /// - none / full fine-tuning: nothing here; the weights are counted as unquantized.
  static func quantized(_ model: ModelArchitecture, _ setup: TrainingSetup) -> MemoryComponent {
    let linears = model.inventory.linears(in: setup.recipe.linearRoles)
    let weightCount = linears.reduce(0) { $0 + $1.instanceCount }
    let elementCount = ModuleInventory.weightElements(linears)
    switch setup.effectiveQuantization {
    case .nf4, .fp4:
      let bytes = ByteCount.sum(linears.map { module in
        module.instanceCount
          * FourBitWeightBuffers(
            elementCount: module.weightElements, blockSize: setup.blockSize,
            doubleQuantization: setup.usesDoubleQuantization
          ).total
      })
      let state =
        setup.usesDoubleQuantization
        ? "nb (uint8 absmax) + 4*ceil(nb/256) (nested absmax) + 1024 (nested code) + 4 (offset)"
        : "4*nb (fp32 absmax)"
      return MemoryComponent(
        .quantizedWeights, lifetime: .resident, bytes: bytes,
        formula: "\(NumberText.grouped(weightCount)) \(setup.quantization.rawValue) weights, \(NumberText.grouped(elementCount)) elements: per weight of n elements, "
          + "nb = ceil(n/\(setup.blockSize)): ceil(n/2) packed + \(state) + 64 (code)",
        source: "bitsandbytes functional.quantize_4bit / QuantState; matches hf-peft-bnb-bytes.json to the byte")
    case .int8:
      let bytes = ByteCount.sum(linears.map { module in
        module.instanceCount
          * (.elements(module.weightElements, bytesEach: 1) + .elements(module.outFeatures, bytesEach: 4))
      })
      return MemoryComponent(
        .quantizedWeights, lifetime: .resident, bytes: bytes,
        formula: "\(NumberText.grouped(weightCount)) int8 weights, \(NumberText.grouped(elementCount)) elements: n int8 + 4*out (fp32 SCB row scales)",
        source: "bitsandbytes Int8Params / Linear8bitLt (LLM.int8())")
    case .none:
      return MemoryComponent(
        .quantizedWeights, lifetime: .resident, bytes: .zero,
        formula: "no quantization: the linear weights are counted as unquantized",
        source: "")
    }
  }

  /// Elements of the linear layers a quantized base leaves unquantized because the recipe's
  /// framework does not hold them as nn.Linear (fused MoE experts in transformers 5, routers).
  static func unquantizedLinearElements(_ model: ModelArchitecture, _ setup: TrainingSetup) -> Int64 {
    let roles = setup.recipe.linearRoles
    return model.inventory.linears.reduce(Int64(0)) {
      roles.contains($1.role) ? $0 : $0 + $1.weightElements * $1.instanceCount
    }
  }

  /// Embeddings, lm_head, norms, biases (and with a 16-bit base the linear weights), in the
  /// dtypes the recipe leaves them in, plus the fp32 rotary buffers.
  static func unquantized(_ model: ModelArchitecture, _ setup: TrainingSetup) -> MemoryComponent {
    let inventory = model.inventory
    let compute = setup.computeDtype
    let dtypes = setup.unquantizedDtypes
    var parts: [(name: String, elements: Int64, dtype: TensorDtype)] = [
      ("embeddings + lm_head", inventory.embeddingElements, dtypes.embeddings.resolved(compute)),
      ("norms", inventory.normElements, dtypes.norms.resolved(compute)),
      ("biases", inventory.linearBiasElements, dtypes.biases.resolved(compute)),
    ]
    if setup.effectiveQuantization.isQuantized {
      // MoE experts and routers that are not nn.Linear in the recipe's framework stay
      // unquantized parameters, treated like the embeddings (upcast by prepare_model_for_kbit_training).
      parts.append((
        "unquantized expert/router weights", unquantizedLinearElements(model, setup), dtypes.embeddings.resolved(compute)))
    } else {
      parts.append((
        "linear weights", inventory.linearWeightElements,
        setup.isFullFineTune ? setup.fullFineTuneParameterDtype : compute.tensorDtype))
    }
    let present = parts.filter { $0.elements > 0 }
    let buffers = inventory.bufferBytes
    let bytes = ByteCount.sum(present.map { .elements($0.elements, bytesEach: $0.dtype.byteWidth) }) + buffers
    return MemoryComponent(
      .unquantizedWeights, lifetime: .resident, bytes: bytes, formula: Self.terms(present, buffers: buffers),
      source: "recipe '\(setup.recipe.name)': " + setup.recipe.summary)
  }

  /// `1,555,824,640 embeddings + lm_head x 4 B (fp32) + ...`.
  private static func terms(_ parts: [(name: String, elements: Int64, dtype: TensorDtype)], buffers: ByteCount) -> String {
    var terms = parts.map { "\(NumberText.grouped($0.elements)) \($0.name) x \($0.dtype.byteWidth) B (\($0.dtype.rawValue))" }
    if buffers > .zero {
      terms.append("\(NumberText.grouped(buffers.bytes)) B rotary inv_freq buffers (fp32)")
    }
    return terms.joined(separator: " + ")
  }
}

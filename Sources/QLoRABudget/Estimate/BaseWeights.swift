/// The frozen base model's resident bytes: the quantized decoder linear weights and the
/// tensors bitsandbytes leaves unquantized.
enum BaseWeights {
  /// The decoder's linear weights as bitsandbytes stores them.
  ///
  /// - 4-bit: per weight ``FourBitWeightBuffers`` (packed codes + quant state).
  /// - int8 (`Linear8bitLt`): `n` int8 bytes + one fp32 scale (SCB) per output row.
  /// - none / full fine-tuning: nothing here; the weights are counted as unquantized.
  static func quantized(_ model: ModelArchitecture, _ setup: TrainingSetup) -> MemoryComponent {
    let linears = model.quantizedLinears(in: setup.recipe.linearRoles)
    let weightCount = linears.reduce(0) { $0 + $1.instanceCount }
    let elementCount = ModuleInventory.weightElements(linears)
    switch setup.effectiveQuantization {
    case .nf4, .fp4:
      let head = outputHead(model, setup)
      let shapes = linears.map { ($0.weightElements, $0.instanceCount) } + (head.map { [($0, Int64(1))] } ?? [])
      let bytes = ByteCount.sum(shapes.map { elements, count in count * fourBitBytes(elements, setup) })
      let headText =
        head.map { " + lm_head \(NumberText.grouped($0)) elements (4-bit: the recipe quantizes every nn.Linear)" } ?? ""
      if setup.recipe.fourBitLayout.isTorchAO {
        let d = setup.computeDtype.tensorDtype.byteWidth
        let factors = setup.recipe.fourBitLayout == .torchao01 ? "256*ceil(nb/256)" : "ceil(nb/256)"
        return MemoryComponent(
          .quantizedWeights, lifetime: .resident, bytes: bytes,
          formula:
            "\(NumberText.grouped(weightCount)) torchao NF4Tensor weights, \(NumberText.grouped(elementCount)) elements\(headText): "
            + "per weight of n elements, nb = ceil(n/\(setup.blockSize)): n/2 packed + nb (int8 scalers) + "
            + "\(d)*\(factors) (quantization factors) + \(d) (scaler mean) + 16*\(d) (code)",
          source: "torchao nf4_tensor.py NF4Tensor.from_tensor / double_quantize_scalers (TorchAONF4Buffers)")
      }
      let state =
        setup.usesDoubleQuantization
        ? "nb (uint8 absmax) + 4*ceil(nb/256) (nested absmax) + 1024 (nested code) + 4 (offset)"
        : "4*nb (fp32 absmax)"
      return MemoryComponent(
        .quantizedWeights, lifetime: .resident, bytes: bytes,
        formula:
          "\(NumberText.grouped(weightCount)) \(setup.quantization.rawValue) weights, \(NumberText.grouped(elementCount)) elements\(headText): per weight of n elements, "
          + "nb = ceil(n/\(setup.blockSize)): ceil(n/2) packed + \(state) + 64 (code)",
        source: "bitsandbytes functional.quantize_4bit / QuantState; matches hf-peft-bnb-bytes.json to the byte")
    case .int8:
      let bytes = ByteCount.sum(
        linears.map { module in
          module.instanceCount
            * (.elements(module.weightElements, bytesEach: 1) + .elements(module.outFeatures, bytesEach: 4))
        })
      return MemoryComponent(
        .quantizedWeights, lifetime: .resident, bytes: bytes,
        formula:
          "\(NumberText.grouped(weightCount)) int8 weights, \(NumberText.grouped(elementCount)) elements: n int8 + 4*out (fp32 SCB row scales)",
        source: "bitsandbytes Int8Params / Linear8bitLt (LLM.int8())")
    case .none:
      return MemoryComponent(
        .quantizedWeights, lifetime: .resident, bytes: .zero,
        formula: "no quantization: the linear weights are counted as unquantized",
        source: "")
    }
  }

  /// The bytes of one 4-bit weight of `elements` in the recipe's layout.
  static func fourBitBytes(_ elements: Int64, _ setup: TrainingSetup) -> ByteCount {
    switch setup.recipe.fourBitLayout {
    case .bitsandbytes:
      return FourBitWeightBuffers(
        elementCount: elements, blockSize: setup.blockSize, doubleQuantization: setup.usesDoubleQuantization
      ).total
    case .torchao, .torchao01:
      return TorchAONF4Buffers(
        elementCount: elements, blockSize: setup.blockSize, dtype: setup.computeDtype.tensorDtype,
        keepsFactorPerScaler: setup.recipe.fourBitLayout == .torchao01
      ).total
    }
  }

  /// lm_head's elements when the recipe quantizes it (an untied head of a 4-bit base), else nil.
  static func outputHead(_ model: ModelArchitecture, _ setup: TrainingSetup) -> Int64? {
    guard setup.recipe.quantizesOutputHead, setup.effectiveQuantization.isFourBit, model.inventory.lmHeadElements > 0
    else {
      return nil
    }
    return model.inventory.lmHeadElements
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
      (
        "embeddings + lm_head", inventory.embeddingElements - (outputHead(model, setup) ?? 0),
        dtypes.embeddings.resolved(compute)
      ),
      ("norms", inventory.normElements, dtypes.norms.resolved(compute)),
      ("biases", inventory.linearBiasElements, dtypes.biases.resolved(compute)),
    ]
    if setup.effectiveQuantization.isQuantized {
      // MoE experts and routers that are not nn.Linear in the recipe's framework stay
      // unquantized parameters, treated like the embeddings (upcast by prepare_model_for_kbit_training).
      parts.append(
        (
          "unquantized expert/router weights", unquantizedLinearElements(model, setup),
          dtypes.embeddings.resolved(compute)
        ))
      // A pre-quantized checkpoint's llm_int8_skip_modules: plain frozen nn.Linear weights,
      // treated like the other 16-bit parameters (upcast by prepare_model_for_kbit_training).
      parts.append(
        (
          "linear weights llm_int8_skip_modules keeps", model.skippedLinearElements(in: setup.recipe.linearRoles),
          dtypes.embeddings.resolved(compute)
        ))
    } else {
      parts.append(
        (
          "linear weights", inventory.linearWeightElements,
          setup.isFullFineTune ? setup.fullFineTuneParameterDtype : compute.tensorDtype
        ))
    }
    let present = parts.filter { $0.elements > 0 }
    let buffers = inventory.bufferBytes
    let bytes = ByteCount.sum(present.map { .elements($0.elements, bytesEach: $0.dtype.byteWidth) }) + buffers
    return MemoryComponent(
      .unquantizedWeights, lifetime: .resident, bytes: bytes,
      formula: Self.terms(present, buffers: buffers, contents: inventory.bufferContents),
      source: "recipe '\(setup.recipe.name)': " + setup.recipe.summary)
  }

  /// `1,555,824,640 embeddings + lm_head x 4 B (fp32) + ...`.
  private static func terms(
    _ parts: [(name: String, elements: Int64, dtype: TensorDtype)], buffers: ByteCount, contents: String
  ) -> String {
    var terms = parts.map {
      "\(NumberText.grouped($0.elements)) \($0.name) x \($0.dtype.byteWidth) B (\($0.dtype.rawValue))"
    }
    if buffers > .zero {
      terms.append("\(NumberText.grouped(buffers.bytes)) B \(contents) buffers (fp32)")
    }
    return terms.joined(separator: " + ")
  }
}

/// One named tensor (or group of identical tensors) of the step, with its bytes.
package struct TensorTerm: Hashable, Sendable {
  private let label: Deferred<String>
  public let bytes: ByteCount
  /// How many equal tensors the bytes are (the allocation schedule allocates each on its own).
  let tensors: Int
  /// What the tensor is, for formulas (built only when read).
  public var name: String { label.value }

  public init(_ name: @autoclosure @escaping @Sendable () -> String, _ bytes: ByteCount, tensors: Int = 1) {
    self.label = Deferred(name)
    self.bytes = bytes
    self.tensors = max(1, tensors)
  }

  /// The bytes of each tensor, the remainder on the last.
  var parts: [ByteCount] { StepSchedule.split(bytes, tensors) }
}

extension Array where Element == TensorTerm {
  var total: ByteCount { ByteCount.sum(lazy.map(\.bytes)) }
}

/// What every activation formula needs: token count, the dtypes tensors take in this recipe
/// and setup, and the platform. Built once per estimate.
///
/// A class: every part of the step keeps it (and the formula text built on demand captures it),
/// and copying a struct of the model and the setup retained each of their arrays and strings
/// (about 5% of the allocated walk's samples; docs/performance.md, "A byte-only walk").
final class StepContext: Sendable {
  let model: ModelArchitecture
  let setup: TrainingSetup
  let platform: KernelPlatform
  /// The attention the layers run (``TrainingSetup/attention(for:)``): the recipe's own layers'
  /// backend unless the setup names one.
  let attention: AttentionImplementation
  /// Tokens in the micro-batch, b*s.
  let tokens: Int64
  /// The compute dtype's width (2 for bf16/fp16).
  let compute: Int64
  /// The embeddings' output width: their dtype (fp32 when the recipe upcast them, as peft's
  /// prepare_model_for_kbit_training does). The first layer's input, and the dtype transformers
  /// builds the rotary tables and the causal mask in (`inputs_embeds.dtype`).
  let embeddingOutput: Int64
  /// The residual stream's width from the first layer's MLP on: each layer adds its MLP's output
  /// into the stream, and the sum takes the wider dtype. A 4-bit projection returns its input's
  /// dtype, so with fp32 norm weights over 16-bit embeddings (the QLoRA paper's casts) the MLP
  /// reads an fp32 norm output, returns fp32, and every later layer's input is fp32
  /// (measured: Fixtures/float32-norm-steps; the fms-acceleration baseline rows).
  let stream: Int64
  /// A norm's output width: the norm weight times the input (`weight * hs.to(input_dtype)`),
  /// promoted to the wider of the two; Gemma's norms return their input's dtype
  /// (`output.type_as(x)`).
  let normOutput: Int64
  /// The width of a 4-bit projection's output for an input of width w: bitsandbytes casts the
  /// result back to the input dtype (`Linear4bit.forward ... .to(inp_dtype)`); a 16-bit base
  /// under autocast computes in the compute dtype.
  let isQuantized: Bool
  let autocast: Bool
  /// The adapters' dtype width (fp32 in peft by default).
  let adapter: Int64
  /// The lm_head weight's width.
  let lmHead: Int64
  /// The linear modules stored in 4 or 8 bits in this recipe (none unquantized): read by every
  /// layer kind's dequantization terms, so listed once.
  let quantizedLinears: [LinearModule]
  /// What a loss that sizes its chunks from the device's free memory may use per chunk (Unsloth's
  /// fused cross-entropy, ``LogitsAndLoss``): half the memory free when the loss first runs, at
  /// most its 4 GiB cap, which is also the budget when no device is known.
  let lossChunkBudget: ByteCount

  init(model: ModelArchitecture, setup: TrainingSetup, lossChunkBudget: ByteCount = LogitsAndLoss.unslothChunkCap) {
    self.model = model
    self.setup = setup
    self.lossChunkBudget = lossChunkBudget
    self.platform = setup.platform
    attention = setup.attention(for: model)
    tokens = Self.product([setup.batchSize, setup.sequenceLength]) ?? Int64.max
    let computeDtype = setup.computeDtype
    compute = computeDtype.tensorDtype.byteWidth
    let dtypes = setup.unquantizedDtypes
    embeddingOutput = dtypes.embeddings.resolved(computeDtype).byteWidth
    normOutput =
      model.layout.normReturnsInputDtype
      ? embeddingOutput : max(embeddingOutput, dtypes.norms.resolved(computeDtype).byteWidth)
    lmHead = dtypes.embeddings.resolved(computeDtype).byteWidth
    isQuantized = setup.effectiveQuantization.isQuantized
    autocast = setup.usesAutocast
    stream = max(
      embeddingOutput,
      Self.projectionOutput(input: normOutput, quantized: isQuantized, autocast: autocast, compute: compute))
    adapter = setup.adapterDtype.resolved(computeDtype).byteWidth
    quantizedLinears = isQuantized ? model.quantizedLinears(in: setup.recipe.linearRoles) : []
  }

  /// What one hidden-size norm saves. RMSNorm (llama, qwen, mistral, gemma, phi3) computes in
  /// fp32 (`hidden_states = hidden_states.to(torch.float32)`, transformers `LlamaRMSNorm.forward`)
  /// and autograd saves that copy (4 B per element whatever the residual dtype; no copy when the
  /// residual is already fp32) and the `tokens x 1` fp32 rsqrt. GPT-2's LayerNorm saves its input
  /// and the fp32 mean and rstd.
  var normSaved: ByteCount {
    let hidden = model.hiddenSize
    if model.layout.normHasBias { return perToken(hidden, stream) + 2 * perToken(1, 4) }
    return perToken(hidden, 4) + perToken(1, 4)
  }

  /// The output width of a frozen base projection fed an input of width `input`.
  func projectionOutput(input: Int64) -> Int64 {
    Self.projectionOutput(input: input, quantized: isQuantized, autocast: autocast, compute: compute)
  }

  private static func projectionOutput(input: Int64, quantized: Bool, autocast: Bool, compute: Int64) -> Int64 {
    if quantized { return input }
    return autocast ? compute : input
  }

  /// `factors` multiplied, or nil on overflow.
  static func product(_ factors: [Int64]) -> Int64? {
    var result: Int64 = 1
    for factor in factors {
      let (value, overflowed) = result.multipliedReportingOverflow(by: factor)
      if overflowed { return nil }
      result = value
    }
    return result
  }

  /// Bytes of a tensor with these dimensions and element width; overflow absorbs.
  /// (Fixed arities: a variadic array here was a heap allocation per tensor per estimate.)
  static func bytes(_ a: Int64, width: Int64) -> ByteCount {
    width * ByteCount(a)
  }

  static func bytes(_ a: Int64, _ b: Int64, width: Int64) -> ByteCount {
    b * bytes(a, width: width)
  }

  static func bytes(_ a: Int64, _ b: Int64, _ c: Int64, width: Int64) -> ByteCount {
    c * bytes(a, b, width: width)
  }

  static func bytes(_ a: Int64, _ b: Int64, _ c: Int64, _ d: Int64, width: Int64) -> ByteCount {
    d * bytes(a, b, c, width: width)
  }

  /// Bytes of a `tokens x width` activation of `bytesEach` per element.
  func perToken(_ width: Int64, _ bytesEach: Int64) -> ByteCount {
    Self.bytes(tokens, width, width: bytesEach)
  }
}

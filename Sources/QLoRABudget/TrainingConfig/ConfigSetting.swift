/// One setting a training config decides, as the estimator's ``TrainingSetup`` holds it.
public enum ConfigSetting: Hashable, Sendable, CustomStringConvertible {
  case rank(Int64)
  case alpha(Double)
  case dropout(Double)
  case targets(LoRATargets)
  case dora(Bool)
  case quantization(BaseQuantization)
  case doubleQuantization(Bool)
  case optimizer(Optimizer)
  case computeDtype(ComputeDtype)
  case recipe(Recipe)
  case sequenceLength(Int64)
  case batchSize(Int64)
  case gradientCheckpointing(Bool)
  case attention(AttentionImplementation)
  case chunkedCrossEntropy(Bool)
  case fullFineTune(Bool)
  /// The setting exists in the config but changes nothing the estimator models (e.g. packing,
  /// which fills each sequence to the length the estimate already uses).
  case noEffect(String)

  public var description: String {
    switch self {
    case .rank(let rank): return "rank \(rank)"
    case .alpha(let alpha): return "alpha \(Self.number(alpha))"
    case .dropout(let dropout): return "lora dropout \(Self.number(dropout))"
    case .targets(let targets): return "targets \(targets.description)"
    case .dora(let dora): return dora ? "DoRA" : "no DoRA"
    case .quantization(let quantization): return "quant \(quantization.rawValue)"
    case .doubleQuantization(let dq): return "double quant \(dq)"
    case .optimizer(let optimizer): return "optimizer \(optimizer.rawValue)"
    case .computeDtype(let dtype): return "dtype \(dtype.rawValue)"
    case .recipe(let recipe): return "recipe \(recipe.name)"
    case .sequenceLength(let tokens): return "seq-len \(tokens)"
    case .batchSize(let batch): return "batch \(batch)"
    case .gradientCheckpointing(let on): return "grad-ckpt \(on)"
    case .attention(let attention): return "attn \(attention.rawValue)"
    case .chunkedCrossEntropy(let chunked): return "loss \(chunked ? "chunked" : "standard")"
    case .fullFineTune(let full): return full ? "full fine-tune" : "LoRA"
    case .noEffect(let note): return note
    }
  }

  /// Sets this on `setup`.
  public func apply(to setup: inout TrainingSetup) {
    switch self {
    case .rank(let rank):
      // peft's and the tool's default alpha follows the rank; a config's alpha comes after.
      setup.lora.rank = rank
      setup.lora.alpha = Double(2 * rank)
    case .alpha(let alpha): setup.lora.alpha = alpha
    case .dropout(let dropout): setup.lora.dropout = dropout
    case .targets(let targets): setup.lora.targets = targets
    case .dora(let dora): setup.lora.usesDoRA = dora
    case .quantization(let quantization): setup.quantization = quantization
    case .doubleQuantization(let dq): setup.usesDoubleQuantization = dq
    case .optimizer(let optimizer): setup.optimizer = optimizer
    case .computeDtype(let dtype): setup.computeDtype = dtype
    case .recipe(let recipe): setup.recipe = recipe
    case .sequenceLength(let tokens): setup.sequenceLength = tokens
    case .batchSize(let batch): setup.batchSize = batch
    case .gradientCheckpointing(let on): setup.gradientCheckpointing = on
    case .attention(let attention): setup.attention = attention
    case .chunkedCrossEntropy(let chunked): setup.chunkedCrossEntropy = chunked
    case .fullFineTune(let full): setup.isFullFineTune = full
    case .noEffect: break
    }
  }

  /// 16 rather than 16.0; other values as Swift prints them.
  private static func number(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return String(value)
  }
}

/// How the frozen base model's decoder linear weights are stored.
public enum BaseQuantization: String, CaseIterable, Hashable, Sendable, Codable {
  /// 4-bit NormalFloat (QLoRA), bitsandbytes `Linear4bit`.
  case nf4
  /// 4-bit float, bitsandbytes `Linear4bit` with `quant_type="fp4"`.
  case fp4
  /// LLM.int8(), bitsandbytes `Linear8bitLt`: int8 weight plus one fp32 scale (SCB) per row.
  case int8
  /// No quantization: 16-bit LoRA on a base in the compute dtype.
  case none

  /// Whether bitsandbytes holds the weights (so peft's `prepare_model_for_kbit_training` runs).
  public var isQuantized: Bool { self != .none }
  public var isFourBit: Bool { self == .nf4 || self == .fp4 }
}

/// How full fine-tuning holds its trained parameters.
///
/// | precision | weights | gradients | AdamW moments (torch) | bytes per parameter |
/// | --- | --- | --- | --- | --- |
/// | `pure` | compute dtype | compute dtype | compute dtype | 2 + 2 + 4 = 8 |
/// | `mixed` | fp32 master | fp32 | fp32 | 4 + 4 + 8 = 16 |
///
/// `pure` is what HF Trainer does with a model loaded in bf16/fp16 (transformers 5 loads a
/// checkpoint in its own dtype): torch.optim.AdamW creates its moments with
/// `torch.zeros_like(param)`, so they take the parameter's dtype. `mixed` loads the model in
/// fp32 and runs forward under autocast, which casts each fp32 weight to the compute dtype.
/// bitsandbytes' 32-bit and paged optimizers keep fp32 state whatever the parameter's dtype.
public enum FullFineTunePrecision: String, CaseIterable, Hashable, Sendable, Codable {
  case pure
  case mixed
}

/// What one LoRA branch `lora_B(lora_A(dropout(x))) * scaling` saves for backward, for an input
/// of `inFeatures` per token in a dtype of `inputWidth` bytes.
///
/// Whether peft first casts x to the adapters' dtype (`x = self._cast_input_dtype(x,
/// lora_A.weight.dtype)`, a copy when the widths differ):
/// - the plain `lora.Linear` (16-bit base) always casts, autocast or not (peft 0.21.2
///   `tuners/lora/layer.py` L1100);
/// - the bitsandbytes `Linear4bit` casts only when `torch.is_autocast_enabled()` is false
///   (`tuners/lora/bnb.py` L543). Without a device argument that call reports CUDA's autocast,
///   so under CPU autocast it is false and the branch casts (measured: inside
///   `torch.autocast("cpu", dtype=torch.bfloat16)`, `torch.is_autocast_enabled()` is False and
///   `torch.is_autocast_enabled("cpu")` True, torch 2.15).
/// lora_A then computes in the compute dtype under autocast (autocast casts its input and saves
/// that copy for the weight's gradient), else in the adapters' dtype. Saved per branch:
/// - with dropout > 0, its mask (CUDA `native_dropout`: 1 byte per element; CPU `_dropout_impl`:
///   `noise = empty_like(input).bernoulli_(1 - p)`, the input's width) and lora_A's input: the
///   dropped-out copy, or its autocast cast when the widths differ (each module has its own
///   `nn.Dropout`, so nothing is shared);
/// - without dropout, lora_A's input: x itself when no copy was made (shared by every branch
///   reading the same x: counted once by the caller), else this branch's own copy;
/// - lora_B's input x*A: `tokens x r` in the matmul dtype.
/// The frozen base matmul saves nothing of x (bitsandbytes `MatMul4Bit` keeps only the quantized
/// weight; a frozen `F.linear` saves its input only for the weight's gradient), and peft's
/// defensive `result.clone()` is not saved.
struct LoRABranch {
  /// Tensors saved only by this branch.
  let own: [TensorTerm]
  /// Whether the branch saves its input tensor itself (shared with other consumers).
  let savesSharedInput: Bool
  /// The dropout mask among `own`: saved only when the branch's input requires grad (the
  /// product `x * noise` needs it for x's gradient alone).
  let mask: ByteCount
  /// lora_B's input x*A, the last of `own`: what a branch sharing another's dropout
  /// (``FrameworkModelCode/fusedQueryKeyValue``) saves on its own.
  var product: TensorTerm { own[own.count - 1] }

  /// The width of x after peft's cast (the dropout's input).
  static func castWidth(_ context: StepContext, inputWidth: Int64) -> Int64 {
    let peftSeesAutocast = context.isQuantized && context.autocast && context.platform == .cuda
    return peftSeesAutocast ? inputWidth : context.adapter
  }

  init(_ context: StepContext, inFeatures: Int64, inputWidth: Int64) {
    let rank = context.setup.lora.rank
    let castWidth = Self.castWidth(context, inputWidth: inputWidth)
    let copied = castWidth != inputWidth
    // The dtype lora_A computes in.
    let matmulWidth = context.autocast ? context.compute : context.adapter
    var own: [TensorTerm] = []
    var shared = false
    var mask = ByteCount.zero
    if context.setup.loraDropout > 0 {
      let maskWidth: Int64 = context.platform == .cuda ? 1 : castWidth
      mask = context.perToken(inFeatures, maskWidth)
      own.append(TensorTerm("dropout mask", mask))
      own.append(
        TensorTerm(
          matmulWidth == castWidth ? "dropped-out input" : "dropped-out input cast for lora_A",
          context.perToken(inFeatures, matmulWidth)))
    } else if matmulWidth != castWidth {
      own.append(TensorTerm("input cast for lora_A", context.perToken(inFeatures, matmulWidth)))
    } else if copied {
      own.append(TensorTerm("input cast to the adapter dtype", context.perToken(inFeatures, castWidth)))
    } else {
      shared = true
    }
    own.append(TensorTerm("x*A", context.perToken(rank, matmulWidth)))
    self.own = own
    self.savesSharedInput = shared
    self.mask = mask
  }
}

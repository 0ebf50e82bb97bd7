/// What one LoRA branch `lora_B(lora_A(dropout(x))) * scaling` saves for backward, for an input
/// of `inFeatures` per token in a dtype of `inputWidth` bytes.
///
/// peft 0.21.2 `tuners/lora/bnb.py` `Linear4bit.forward`: without autocast, x is cast to the
/// adapters' dtype first (`_cast_input_dtype(x, lora_A.weight.dtype)`); under autocast no cast
/// happens and autocast casts lora_A's input to the compute dtype. So the branch saves:
/// - lora_A's input: x itself (shared by every branch reading the same x: counted once by the
///   caller), or its own cast copy, or, with dropout > 0, its own dropped-out copy (each module
///   has its own `nn.Dropout`) and the dropout mask (CUDA: 1 byte per element,
///   `native_dropout`; CPU: a scaling tensor in the input dtype);
/// - lora_B's input x*A: `tokens x r` in the matmul dtype.
/// The frozen 4-bit base matmul saves nothing of x (bitsandbytes `MatMul4Bit` keeps only the
/// quantized weight; docs/recipes.md), and peft's defensive `result.clone()` is not saved.
struct LoRABranch {
  /// Tensors saved only by this branch.
  let own: [TensorTerm]
  /// Whether the branch saves its input tensor itself (shared with other consumers).
  let savesSharedInput: Bool

  init(_ context: StepContext, inFeatures: Int64, inputWidth: Int64) {
    let rank = context.setup.lora.rank
    let dropout = context.setup.lora.dropout > 0
    // The dtype lora_A computes in.
    let matmulWidth = context.autocast ? context.compute : context.adapter
    // The dtype dropout runs in: after peft's cast without autocast, the input's with it.
    let dropoutWidth = context.autocast ? inputWidth : context.adapter
    var own: [TensorTerm] = []
    var shared = false
    if !context.autocast, inputWidth != context.adapter {
      if !dropout { own.append(TensorTerm("input cast to the adapter dtype", context.perToken(inFeatures, context.adapter))) }
    }
    if dropout {
      let maskWidth: Int64 = context.platform == .cuda ? 1 : dropoutWidth
      own.append(TensorTerm("dropout mask", context.perToken(inFeatures, maskWidth)))
      if matmulWidth == dropoutWidth {
        own.append(TensorTerm("dropped-out input", context.perToken(inFeatures, dropoutWidth)))
      } else {
        own.append(TensorTerm("dropped-out input cast for lora_A", context.perToken(inFeatures, matmulWidth)))
      }
    } else if context.autocast {
      if inputWidth == matmulWidth { shared = true } else {
        own.append(TensorTerm("input cast for lora_A", context.perToken(inFeatures, matmulWidth)))
      }
    } else if inputWidth == context.adapter {
      shared = true
    }
    own.append(TensorTerm("x*A", context.perToken(rank, matmulWidth)))
    self.own = own
    self.savesSharedInput = shared
  }
}

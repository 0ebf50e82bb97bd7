/// What a framework that runs its own model code (not transformers' layers) does that changes
/// the step's bytes. A recipe without one runs transformers' modeling code; a recipe with one
/// keeps no key/value cache in training (transformers' `use_cache` is not there).
public struct FrameworkModelCode: Hashable, Sendable {
  /// The attention computes q, k and v with one fused linear and LoRA on any of them is one
  /// module over that output (LitGPT `CausalSelfAttention.attn`, `lora.py` `LoRAQKVLinear`):
  /// - one dropout on the input for every adapted projection (one mask, one dropped-out copy);
  /// - unless all three are adapted, `zero_pad` scatters the LoRA output into a zero tensor of
  ///   the fused width with `index_copy`, which saves its source (`tokens x` the adapted widths);
  /// - with as many key/value heads as query heads, `v.reshape` of the permuted fused output is a
  ///   view, so the attention kernel's saved v keeps the whole fused output (`tokens x (q + 2 kv)`);
  ///   with fewer, k and v are expanded copies, as counted for every recipe;
  /// - the attention's output is `b x heads x s x d` in the query's memory layout (the query is
  ///   a `torch.cat` after rotary; the kernel allocates its output like the query), so
  ///   `y.transpose(1, 2).reshape(B, T, C)` copies it: o_proj reads that copy.
  public let fusedQueryKeyValue: Bool
  /// The loop rebinds the output only when the next forward returns (LitGPT `fit`: `logits =
  /// model(input_ids, lm_head_chunk_size=128)`): the previous step's logits, and through their
  /// autograd graph whatever its nodes still hold after backward, live through this forward.
  public let keepsPreviousStepThroughForward: Bool
  /// The model has its own `lm_head` linear even when the checkpoint ties it to the token
  /// embedding (LitGPT's `GPT` until weight tying: the conversion copies the embedding).
  public let ownsOutputHead: Bool
  /// The bitsandbytes the framework pinned keeps each 4-bit matmul's input: `MatMul4Bit.forward`
  /// in bitsandbytes 0.41.0-0.43.3 sets `ctx.tensors = (A, B)` when the input or the weight
  /// requires grad (0.44.0: `(None, B)`). `ctx.tensors` is an attribute of the node, not a saved
  /// variable: backward does not release it; it lives as long as the graph.
  public let fourBitMatmulKeepsInput: Bool
  /// The weights are quantized from fp16 (Lightning Fabric `_Linear4bit.quantize`:
  /// `weight.contiguous().to(device=device, dtype=torch.half)` before `quantize_4bit`), so
  /// `dequantize_4bit` returns fp16 and MatMul4Bit's `.to(A.dtype)` makes a second copy in a
  /// bf16 compute dtype: two weight-sized buffers at the dequantization's moment.
  public let quantizesFromHalf: Bool

  public init(
    fusedQueryKeyValue: Bool, keepsPreviousStepThroughForward: Bool, ownsOutputHead: Bool,
    fourBitMatmulKeepsInput: Bool, quantizesFromHalf: Bool
  ) {
    self.fusedQueryKeyValue = fusedQueryKeyValue
    self.keepsPreviousStepThroughForward = keepsPreviousStepThroughForward
    self.ownsOutputHead = ownsOutputHead
    self.fourBitMatmulKeepsInput = fourBitMatmulKeepsInput
    self.quantizesFromHalf = quantizesFromHalf
  }
}

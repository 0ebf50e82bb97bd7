/// What `optimizer.step()` allocates for a moment beyond the gradients it reads.
///
/// - `adamw` (`torch.optim.AdamW`, foreach=None): on CUDA torch picks the foreach implementation
///   (`_default_to_fused_or_foreach`: foreach when every parameter is on a CUDA device), whose
///   `exp_avg_sq_sqrt = torch._foreach_sqrt(device_exp_avg_sqs)` is one temporary the size of every
///   second moment at once (moments are `zeros_like(param)`: the trainable bytes). On the CPU it
///   runs `_single_tensor_adam`, parameter by parameter: `denom = (exp_avg_sq.sqrt() /
///   bias_correction2_sqrt).add_(eps)` holds the square root and the quotient of one tensor while
///   the previous parameter's `denom` is still bound, so the moment is the largest
///   `previous + 2 x current` over consecutive parameters (peft registers `lora_A` before `lora_B`,
///   module by module, layer after layer). Source: torch 2.15 `optim/adam.py` `_single_tensor_adam`
///   L544-547, `_multi_tensor_adam`; `optim/optimizer.py` `_default_to_fused_or_foreach`.
///   Checked: `peak_optimizer - gradients` of cpu-steps `qwen2.5-0.5b-s512-b2-full-gc-sdpa`
///   (2 x the 272 MB embedding, the first parameter) and the LoRA cases (3 x the MLP's `r x
///   intermediate` adapters: up_proj.lora_B then down_proj.lora_A).
/// - bitsandbytes optimizers (`adamw-8bit`, `paged-*`) update each tensor in place in one kernel
///   (`Optimizer2State.update_step` -> `F.optimizer_update_32bit` / `optimizer_update_8bit_blockwise`),
///   and SGD updates in place (`_foreach_add_`): no temporary is counted.
enum OptimizerTemporaries {
  static func bytes(_ trainable: [TrainableTensorGroup], optimizer: Optimizer, platform: KernelPlatform) -> ByteCount {
    guard optimizer == .adamw else { return .zero }
    switch platform {
    case .cuda:
      return ByteCount.sum(trainable.map(\.bytes))
    case .cpu:
      let sizes = trainable.map { ByteCount.elements($0.elementsPerTensor, bytesEach: $0.dtype.byteWidth) }
      // Layers repeat the same tensors, so the tensor before the first is the last one; a
      // first tensor that does not repeat (a modules_to_save embedding copy) has none before it.
      let repeats = (trainable.first?.tensorCount ?? 0) > 1
      var largest = ByteCount.zero
      for (index, size) in sizes.enumerated() {
        let previous = index > 0 ? sizes[index - 1] : (repeats ? sizes[sizes.count - 1] : .zero)
        largest = max(largest, previous + 2 * size)
      }
      return largest
    }
  }
}

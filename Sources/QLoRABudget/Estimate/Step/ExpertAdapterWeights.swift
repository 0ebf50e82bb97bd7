/// What LoRA on a sparse layer's fused expert stacks (``AdaptedParameter``, peft's `ParamWrapper`)
/// holds during the step: the merged stacks and, in backward, their gradients.
///
/// peft 0.21.2 `tuners/lora/layer.py` `ParamWrapper._activate_lora`: with one adapter, `E` > 1 and
/// a parameter that is not float8, the stack is parametrized by `_LoraFactorsProxy`, which returns
/// `torch.baddbmm(W, lhs, rhs, alpha=scaling)` with autocast off: the whole merged stack
/// `W + scale x B A`, in the parameter's dtype (fp32 after `prepare_model_for_kbit_training`), cached by
/// `parametrize.cached()` for the module's forward. peft nests the `gate_up_proj` wrapper inside the
/// `down_proj` one, so both merged stacks exist while the experts run, and `grouped_mm` saves them
/// for its weight gradient (a merged stack is not a parameter): they are what a sparse layer saves
/// beside its activations, in every checkpointed forward too (freed when the layer returns).
/// In backward, `down_proj`'s `GroupedMmBackward0` allocates the merged stack's gradient beside both
/// stacks; `BaddbmmBackward0` then turns it into the factors' gradients and both are freed; then
/// `gate_up_proj`'s gradient beside its own stack, each with its input's gradient. Once a stack
/// requires grad, `grouped_mm` keeps its input too, and the adapted router's `F.linear` its input.
///
/// Measured (Tests/Calibration/cpu-steps/out-of-sample.json, the `qwen3-moe-tiny` steps: E = 16,
/// hidden 1,024, expert intermediate 512, fp32 stacks, 256 tokens, k = 4): a checkpointed layer
/// frees 67,108,864 and 33,554,432 B as it returns; in backward the peak is inside `down_proj`'s
/// `GroupedMmBackward0`, its 33,554,432 B gradient beside both stacks, then 67,108,864 B for
/// `gate_up_proj`'s. Saved tensors (a `saved_tensors_hooks` walk of the one-layer build, all-linear
/// against q/k/v/o only): the two stacks, 4,194,304 and 2,097,152 B of `grouped_mm` inputs, the
/// router's 524,288 B bf16 input and its adapters' autocast casts (``StepPeak``).
///
/// The router's 2-D weight (`num_experts == 1`) goes through `_LoraParameterProxy` instead:
/// `get_delta_weight` forms `B @ A x scale` cast to the parameter's dtype and the proxy returns
/// `W + delta`, a merged `E x hidden` weight cached while the router's forward runs
/// (`ParamWrapper.forward` wraps `base_layer(x)` in `_activate_lora`). `F.linear` saves the weight
/// it multiplies for its input's gradient: the merged weight itself, or under autocast its cast to
/// the compute dtype (the merged weight is no leaf, so autocast does not cache it). That saved
/// copy is counted with the stacks; the delta and the uncast merged weight live only during the
/// router's forward (an `E x hidden` pair, small beside the stacks) and are not.
enum ExpertAdapterWeights {
  /// What a sparse layer saves because its stacks and router are adapted: the merged stacks
  /// (held while the experts run), `grouped_mm`'s input for each adapted stack (the weight's
  /// gradient needs it: `S = tokens x k` rows of `hidden` for `gate_up_proj`, of `intermediate`
  /// for `down_proj`, in the experts' dtype), the router's input cast (autocast's 16-bit copy
  /// that `F.linear` keeps once its weight requires grad) and its merged weight.
  static func saved(_ context: StepContext, _ parameters: [AdaptedParameter], _ moe: MixtureOfExperts) -> [TensorTerm] {
    let rows = StepContext.product([context.tokens, moe.expertRowsPerToken]) ?? Int64.max
    var terms = stacks(parameters).flatMap { stack in
      [
        TensorTerm(
          "LoRA-merged \(stack.path) (W + scale x B A, \(NumberText.grouped(stack.elements)) elements)",
          bytes(stack, context)),
        TensorTerm(
          "\(stack.path) input kept for its gradient", StepContext.bytes(rows, stack.inFeatures, width: context.lmHead)),
      ]
    }
    if let router = parameters.first(where: { $0.expertCount == 1 }) {
      terms.append(
        TensorTerm(
          "\(router.path) input cast kept for its gradient",
          context.perToken(router.inFeatures, context.autocast ? context.compute : context.normOutput)))
      terms.append(
        TensorTerm(
          "LoRA-merged \(router.path) (W + scale x B A) as F.linear saves it",
          .elements(router.elements, bytesEach: context.autocast ? context.compute : context.lmHead)))
    }
    return terms
  }

  /// The MLP block's backward temporaries once its stacks are adapted: the larger of
  /// `activations` (the experts' own, ``GroupedExperts``) and the stacks' moment. Walking the
  /// stacks in backward order (`down_proj` first), each stack's gradient and its input's gradient
  /// sit beside what is still saved; a stack done frees it and its input. The step counts every
  /// gradient of the layer at its moment (``GradientTiming``), but a stack's adapters get theirs
  /// only from its `BaddbmmBackward0`, after its moment: the ones not yet made are taken off.
  static func backwardTransients(
    _ context: StepContext, _ parameters: [AdaptedParameter], _ moe: MixtureOfExperts, activations: [ByteCount]
  ) -> [ByteCount] {
    let rows = StepContext.product([context.tokens, moe.expertRowsPerToken]) ?? Int64.max
    let adapterWidth = context.setup.adapterDtype.resolved(context.setup.computeDtype).byteWidth
    let order = Array(stacks(parameters).reversed())
    func input(_ stack: AdaptedParameter) -> Int64 {
      StepContext.bytes(rows, stack.inFeatures, width: context.lmHead).bytes
    }
    func adapters(_ stack: AdaptedParameter) -> Int64 {
      let width = saturatingProduct(saturatingProduct(context.setup.lora.rank, stack.rankMultiple), stack.expertCount)
      return saturatingProduct(saturatingProduct(width, stack.inFeatures + stack.outFeatures), adapterWidth)
    }
    let saved = order.reduce(Int64(0)) { saturatingSum($0, saturatingSum(bytes($1, context).bytes, input($1))) }
    let notYetMade = order.reduce(Int64(0)) { saturatingSum($0, adapters($1)) }
    var alive = saved
    var made: Int64 = 0
    var moment = Int64.min
    for stack in order {
      let here = saturatingSum(saturatingSum(alive, bytes(stack, context).bytes), input(stack)) + made - notYetMade
      moment = max(moment, here)
      alive = alive - bytes(stack, context).bytes - input(stack)
      made = saturatingSum(made, adapters(stack))
    }
    let above = ByteCount(max(0, moment - saved))
    return above > ByteCount.sum(activations) ? [above] : activations
  }

  /// The expert stacks (E > 1), in forward order; the 2-D router weight is left out.
  private static func stacks(_ parameters: [AdaptedParameter]) -> [AdaptedParameter] {
    parameters.filter { $0.expertCount > 1 }
  }

  /// A stack's bytes in the experts' dtype (the embeddings' dtype rule, as ``GroupedExperts``).
  private static func bytes(_ parameter: AdaptedParameter, _ context: StepContext) -> ByteCount {
    .elements(parameter.elements, bytesEach: context.lmHead)
  }
}

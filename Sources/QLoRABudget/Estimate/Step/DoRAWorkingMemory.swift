/// What peft's DoRA holds for a moment in every forward (and recomputed forward) of one adapted
/// module, and what it saves (peft 0.21.2 `tuners/lora/dora.py` `DoraLinearLayer.forward`,
/// `variants.py` `DoraLinearVariant.forward`), for `in x out` weights, rank r:
/// 1. `get_lora_weight`: `x_eye = torch.eye(in)` in the adapters' dtype, `lora_B(lora_A(x_eye)).T`:
///    the `in x in` identity, its autocast cast (saved for lora_A's weight gradient while grad
///    is on, until the function's `lora_weight` dies), `in x r`, and the `in x out` product;
/// 2. `lora_weight.to(x.dtype)`: a copy when x's width differs (x is cast to the adapters' dtype
///    as for plain LoRA, ``LoRABranch``);
/// 3. `dequantize_module_weight(base_layer).to(x.dtype)`: the 16-bit weight (the parameter
///    itself for a 16-bit base), copied when x's width differs;
/// 4. `get_weight_norm`: `weight + scaling * lora_weight`, two `out x in` temporaries beside the
///    weight and lora_weight.
/// The module's moment is the largest of these. Saved for backward: `base_result` and
/// `lora_result` (`tokens x out`) for the magnitude's products, and with dropout (peft then
/// passes no `base_result` and runs `F.linear(x, weight)` again) the weight as that matmul
/// reads it (its autocast cast), for x's gradient.
/// Measured: Tests/Calibration/cpu-steps/out-of-sample.json's `-dora` steps (Mistral-7B
/// dimensions: down_proj's 14,336 x 14,336 identity sets both phases' peaks).
struct DoRAWorkingMemory {
  /// The module's largest moment with grad off (a checkpointed forward) and on.
  let withoutGrad: ByteCount
  let withGrad: ByteCount
  /// Saved for backward per module instance.
  let saved: [TensorTerm]

  init(_ context: StepContext, module: LinearModule, inputWidth: Int64) {
    let adapter = context.adapter
    let matmul = context.autocast ? context.compute : adapter
    let x = LoRABranch.castWidth(context, inputWidth: inputWidth)
    let identity = module.inFeatures * module.inFeatures
    let weight = module.inFeatures * module.outFeatures
    func bytes(_ elements: Int64, _ width: Int64) -> Int64 { elements * width }
    let identityCast = matmul != adapter ? bytes(identity, matmul) : 0
    let down = bytes(module.inFeatures * context.setup.lora.rank, matmul)
    // Kept through steps 2-4 with grad on: lora_weight's graph (lora_A's input and output).
    let graph = identityCast + down
    let product = bytes(weight, matmul)
    let loraWeight = x != matmul ? bytes(weight, x) : product
    let dequantized = context.isQuantized ? bytes(weight, context.compute) : 0
    let baseWeight = context.isQuantized || x != context.compute ? bytes(weight, x) : 0
    func moments(_ grad: Bool) -> Int64 {
      let kept = grad ? graph : 0
      let identityMoment = bytes(identity, adapter) + identityCast + down
      let productMoment = bytes(identity, adapter) + kept + product
      let copyMoment = kept + product + (x != matmul ? loraWeight : 0)
      let dequantMoment = kept + loraWeight + dequantized + (x != context.compute ? baseWeight : 0)
      let normMoment = kept + loraWeight + baseWeight + 2 * bytes(weight, x)
      return [identityMoment, productMoment, copyMoment, dequantMoment, normMoment].max() ?? 0
    }
    withoutGrad = ByteCount(moments(false))
    withGrad = ByteCount(moments(true))
    var saved = [
      // Without dropout base_result is the base layer's output (its input's width for a 4-bit
      // base: fp32 after a norm upcast by prepare_model_for_kbit_training), else F.linear's.
      TensorTerm(
        "\(module.name) DoRA: base_result",
        context.perToken(
          module.outFeatures, context.setup.loraDropout > 0 ? matmul : context.projectionOutput(input: inputWidth))),
      TensorTerm("\(module.name) DoRA: lora_result", context.perToken(module.outFeatures, matmul)),
    ]
    if context.setup.loraDropout > 0 {
      saved.append(
        TensorTerm(
          "\(module.name) DoRA: weight read by F.linear", ByteCount(bytes(weight, context.autocast ? matmul : x))))
    }
    self.saved = saved
  }
}

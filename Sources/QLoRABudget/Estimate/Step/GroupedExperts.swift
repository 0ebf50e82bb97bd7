/// What a DeepSeek-V3 / GLM-4 MoE, Qwen2/3-MoE or Mixtral sparse block saves in transformers 5, where the
/// experts are fused 3-D parameters run by `grouped_mm` (the default `experts_implementation`).
///
/// transformers 5.25.0 `integrations/moe.py` `grouped_mm_experts_forward`, for `T` tokens routed
/// to `k` experts each (`S = T x k` rows whatever the routing: the memory does not depend on it):
/// the rows are gathered in expert order, `gate_up_proj` runs as one grouped matmul, `act(gate) *
/// up`, `down_proj` as another, then the routing-weight product and a sum over the k rows.
/// `grouped_mm` is not autocast-enabled: its input is cast to the experts' own dtype (fp32 after
/// `prepare_model_for_kbit_training`, the embeddings' dtype rule), and it saves only the frozen
/// weight (a parameter). Saved: the `S x 2 intermediate` gate_up output (SiLU's input, and `up`,
/// a view of it), the activation's `S x intermediate` output (the product's other factor), the
/// `S x hidden` down output (the routing-weight product's), three int64 `S` index vectors, the `S`
/// routing weights and the int32 offsets. The router (`DeepseekV3TopkRouter`: `F.linear` of the
/// fp32 input and weight, which autocast runs in the compute dtype) saves its sigmoid scores and
/// their masked copy (`T x E`), the `T x E` bool mask, the top-k indices (int64) and weights, and
/// the normalising denominator; its expert-group top-k (`n_group` > 1) adds a few int64 values per
/// token, not counted. The Qwen and Mixtral routers (`Qwen3MoeTopKRouter`, `MixtralTopKRouter`: fp32
/// softmax of the logits, top-k, the `norm_topk_prob` division, always in Mixtral's) saves the `T x E` fp32 probabilities, the top-k indices
/// (int64) and fp32 values, and the `T x 1` fp32 denominator (counted whether or not the config
/// normalises: 4 B per token).
/// Measured: the sparse layer of the MLA steps (Tests/QLoRABudgetTests/Fixtures/mla-steps),
/// 25,272,384 + 16,777,216 B of experts and 149,504 B of router for T = 1,024, k = 4, E = 16,
/// hidden 1,024, intermediate 512, fp32 experts, bf16 autocast; the Qwen block: the `qwen3-moe-tiny`
/// steps (Tests/Calibration/cpu-steps/out-of-sample.json; ``ExpertAdapterWeights``), whose one-layer
/// build saves the same expert tensors and 16,384 + 8,192 + 4,096 + 1,024 B of router for T = 256,
/// k = 4, E = 16. Mixtral's block is read, not measured: transformers 5.25.0 `modeling_mixtral.py`
/// decorates `MixtralExperts` with the same `use_experts_implementation`.
enum GroupedExperts {
  /// Whether the sparse block runs this way: the GLM-4 / DeepSeek-V3, Qwen or Mixtral block with
  /// its experts fused (transformers 5; the recipe does not hold them as `nn.Linear`).
  static func applies(_ context: StepContext, _ moe: MixtureOfExperts) -> Bool {
    [.glm, .qwen, .mixtral].contains(moe.style) && !context.setup.recipe.linearRoles.contains(moe.expertRole)
  }

  static func activations(_ context: StepContext, _ moe: MixtureOfExperts) -> (
    saved: [TensorTerm], transients: [ByteCount]
  ) {
    let rows = StepContext.product([context.tokens, moe.expertsPerToken]) ?? Int64.max
    let width = context.lmHead
    let size = moe.expertIntermediateSize
    let routerWidth = context.autocast ? context.compute : 4
    let saved = [
      TensorTerm(
        "experts: gate_up output (S = tokens*k = \(rows) rows)", StepContext.bytes(rows, 2 * size, width: width)),
      TensorTerm("experts: activation output", StepContext.bytes(rows, size, width: width)),
      TensorTerm(
        "experts: down output kept by the routing-weight product",
        StepContext.bytes(rows, context.model.hiddenSize, width: width)),
      TensorTerm(
        "experts: sort indices, routing weights, offsets",
        StepContext.bytes(rows, 3 * 8 + routerWidth, width: 1) + .elements(moe.expertCount, bytesEach: 4)),
      moe.style != .glm
        ? TensorTerm(
          "router: fp32 probabilities, top-k indices and values, denominator",
          context.perToken(moe.expertCount * 4 + moe.expertsPerToken * (8 + 4) + 4, 1))
        : TensorTerm(
          "router: scores, masked scores, mask, top-k indices and weights, denominator",
          context.perToken(
            moe.expertCount * (2 * routerWidth + 1) + moe.expertsPerToken * (8 + routerWidth) + routerWidth, 1)),
    ]
    // Backward: the gate_up output's gradient beside the activation's and the product's.
    let transients = [
      StepContext.bytes(rows, 2 * size, width: width), StepContext.bytes(rows, size, width: width),
      StepContext.bytes(rows, size, width: width),
    ]
    return (saved, transients)
  }
}

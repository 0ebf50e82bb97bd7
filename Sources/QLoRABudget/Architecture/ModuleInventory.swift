/// One kind of linear layer (`nn.Linear`, or GPT-2's `Conv1D`) and how many of it the model has.
///
/// These are the modules bitsandbytes replaces with `Linear4bit` and peft can adapt with LoRA.
public struct LinearModule: Hashable, Sendable {
  /// What the matrix does; frameworks differ in which roles are `nn.Linear` modules.
  public enum Role: String, CaseIterable, Hashable, Sendable {
    /// Attention and dense-MLP projections, shared experts: `nn.Linear` everywhere.
    case projection
    /// MoE experts: one `nn.Linear` per expert in transformers 4.x; one fused 3-D parameter
    /// per layer in transformers 5, which bitsandbytes does not quantize and peft's
    /// `all-linear` does not target.
    case expert
    /// MoE routers (`mlp.gate`, `block_sparse_moe.gate`): `nn.Linear` in transformers 4.x,
    /// `TopKRouter` modules in transformers 5. (Qwen2-MoE's `shared_expert_gate` stays an
    /// `nn.Linear` in both: a projection.)
    case router
    /// MoE routers whose weight is a bare `nn.Parameter` in transformers 4 and 5 alike
    /// (GLM-4 MoE's `Glm4MoeTopkRouter`): never quantized, never a LoRA target.
    case routerParameter = "router-parameter"
    /// MoE experts held as fused 3-D parameters in transformers 4 and 5 alike (gpt-oss's
    /// `GptOssExperts`): never quantized by bitsandbytes, never an all-linear target.
    case expertParameter = "expert-parameter"
    /// Routers that subclass `nn.Linear` (Llama 4's `Llama4Router`, whose forward adds top-k):
    /// transformers 5's bitsandbytes swap takes only `type(module) is nn.Linear` and leaves them
    /// unquantized; peft's `all-linear` matches `isinstance(module, nn.Linear)` and adapts them.
    /// transformers 4.57 would swap them for a `Linear4bit` that drops the top-k (the MoE block
    /// then fails), so a working 4.57 run skips them too: no recipe quantizes this role, and
    /// ``alwaysAdapted`` makes it a LoRA candidate under every recipe.
    case routerLinearSubclass = "router-linear-subclass"
    /// `nn.Linear` modules whose weight the model reads directly and that a working 4-bit run
    /// must keep out of bitsandbytes (Gemma 3n's AltUp `correction_coefs` / `prediction_coefs`,
    /// ``Gemma3nLayout``): never quantized, adapted by `all-linear` like any `nn.Linear`.
    case keptUnquantized = "kept-unquantized"

    /// Roles peft can adapt whether or not a recipe's framework quantizes them.
    public static let alwaysAdapted: Set<Role> = [.routerLinearSubclass, .keptUnquantized]
  }

  /// Which activation of the layer the module reads: LoRA branches reading the same tensor
  /// share it (q/k/v all read the first norm's output).
  public enum Input: Hashable, Sendable {
    /// The first norm's output: q/k/v, `qkv_proj`, `c_attn`, MLA's `q_a_proj` and `kv_a_proj_with_mqa`.
    case attentionInput
    /// The attention output: `o_proj`, `attn.c_proj`.
    case attentionOutput
    /// MLA's query latent after `q_a_layernorm`: `q_b_proj`.
    case queryLatent
    /// MLA's key/value latent after `kv_a_layernorm`: `kv_b_proj`.
    case keyValueLatent
    /// The second norm's output in a dense layer: gate/up, `gate_up_proj`, `c_fc`.
    case feedForwardInput
    /// The gated product (or GELU output) of a dense MLP: `down_proj`, `mlp.c_proj`.
    case feedForwardIntermediate
    /// The second norm's output in a sparse layer: shared-expert gate/up, routers, experts.
    case sparseInput
    /// The shared expert's gated product: `shared_expert.down_proj`.
    case sharedExpertIntermediate
    /// An expert's gated product (expert down projections).
    case expertIntermediate
    /// A tensor of Gemma 3n's AltUp, per-layer-input or model-level path (``Gemma3nLayout``): the
    /// module's parameters and LoRA adapters are counted; its step activations are
    /// ``Gemma3nActivations``'.
    case gemma3nPath

    /// Whether the module belongs to the attention block (its backward runs after the MLP's).
    public var isAttention: Bool { [.attentionInput, .attentionOutput, .queryLatent, .keyValueLatent].contains(self) }
  }

  /// The module's path inside a decoder layer, e.g. `self_attn.q_proj`, `mlp.experts.gate_proj`.
  public let path: String
  public let inFeatures: Int64
  public let outFeatures: Int64
  public let hasBias: Bool
  /// How many such modules the whole model has (layers x experts).
  public let instanceCount: Int64
  public let role: Role
  public let input: Input

  public init(
    path: String, inFeatures: Int64, outFeatures: Int64, hasBias: Bool = false, instanceCount: Int64,
    role: Role = .projection, input: Input
  ) {
    self.input = input
    self.path = path
    self.name = String(path.split(separator: ".").last ?? Substring(path))
    self.role = role
    self.inFeatures = inFeatures
    self.outFeatures = outFeatures
    self.hasBias = hasBias
    self.instanceCount = instanceCount
  }

  /// The last path component, which is what peft's `target_modules` names match.
  public let name: String

  /// Elements of one instance's weight matrix (`out x in`); saturates at `Int64.max` rather than
  /// trapping for dimensions a caller passes past what a config can hold (decoded models keep
  /// every count under 10^15, ``ModelArchitecture/maximumParameterCount``).
  public var weightElements: Int64 { saturatingProduct(inFeatures, outFeatures) }
}

/// A small parameter that is never quantized: a norm's weight (and bias), a per-head norm.
package struct VectorParameter: Hashable, Sendable {
  public let path: String
  /// Elements of one instance (a LayerNorm with bias counts weight and bias).
  public let elements: Int64
  public let instanceCount: Int64

  /// Nil for a negative element or instance count (a count that cannot exist).
  public init?(path: String, elements: Int64, instanceCount: Int64) {
    guard elements >= 0, instanceCount >= 0 else { return nil }
    self.path = path
    self.elements = elements
    self.instanceCount = instanceCount
  }

  /// `elements x instanceCount`, saturating at `Int64.max` (see ``LinearModule/weightElements``).
  public var totalElements: Int64 { saturatingProduct(elements, instanceCount) }
}

/// Every parameter tensor of a causal language model, grouped by what the recipes treat
/// differently: decoder linear weights (quantized), their biases, norms, embeddings, lm_head.
package struct ModuleInventory: Hashable, Sendable {
  /// Linear layers inside the decoder stack (including MoE experts and routers).
  public let linears: [LinearModule]
  /// Norm weights (and LayerNorm biases), including the final norm.
  public let norms: [VectorParameter]
  /// `vocab x hidden` token embedding elements.
  public let tokenEmbeddingElements: Int64
  /// Learned absolute position embedding elements (GPT-2's `wpe`); 0 for rotary models.
  public let positionEmbeddingElements: Int64
  /// `vocab x hidden` output projection elements; 0 when tied to the token embedding.
  public let lmHeadElements: Int64
  /// Gemma 3n's `embed_tokens_per_layer` (``Gemma3nLayout``); 0 for every other family.
  public let perLayerEmbeddingElements: Int64
  /// Non-parameter buffers (rotary `inv_freq` and `original_inv_freq`, MoE router biases; fp32).
  public let bufferBytes: ByteCount
  /// What ``bufferBytes`` holds, in words (`rotary inv_freq`).
  public let bufferContents: String
  /// Whether every linear layer is a projection (no MoE experts or routers).
  private let isDense: Bool

  public init(
    linears: [LinearModule], norms: [VectorParameter], tokenEmbeddingElements: Int64,
    positionEmbeddingElements: Int64, lmHeadElements: Int64, perLayerEmbeddingElements: Int64 = 0,
    bufferBytes: ByteCount, bufferContents: String = "rotary inv_freq"
  ) {
    self.perLayerEmbeddingElements = perLayerEmbeddingElements
    self.linears = linears
    self.norms = norms
    self.tokenEmbeddingElements = tokenEmbeddingElements
    self.positionEmbeddingElements = positionEmbeddingElements
    self.lmHeadElements = lmHeadElements
    self.bufferBytes = bufferBytes
    self.bufferContents = bufferContents
    self.isDense = linears.allSatisfy { $0.role == .projection }
  }

  /// Elements of all decoder linear weights (experts and routers included).
  public var linearWeightElements: Int64 { Self.weightElements(linears) }

  /// Elements of the weights of `modules`.
  public static func weightElements(_ modules: [LinearModule]) -> Int64 {
    modules.reduce(0) { saturatingSum($0, saturatingProduct($1.weightElements, $1.instanceCount)) }
  }

  /// Elements of all linear biases.
  public var linearBiasElements: Int64 {
    linears.reduce(0) { $0 + ($1.hasBias ? $1.outFeatures * $1.instanceCount : 0) }
  }

  public var normElements: Int64 { norms.reduce(0) { $0 + $1.totalElements } }

  /// Embeddings, position embeddings and lm_head: the large tensors bitsandbytes never quantizes.
  public var embeddingElements: Int64 {
    tokenEmbeddingElements + positionEmbeddingElements + lmHeadElements + perLayerEmbeddingElements
  }

  /// Every parameter of the model.
  public var parameterCount: Int64 {
    linearWeightElements + linearBiasElements + normElements + embeddingElements
  }

  /// The linear layers that are `nn.Linear` modules when the framework treats `roles` so.
  public func linears(in roles: Set<LinearModule.Role>) -> [LinearModule] {
    // Dense models have projections only: no filtered copy per estimate.
    if isDense, roles.contains(.projection) { return linears }
    return linears.filter { roles.contains($0.role) }
  }

  /// The distinct module names (`q_proj`, `gate_up_proj`, ...) of `modules`, in first-seen order.
  public static func names(of modules: [LinearModule]) -> [String] {
    var seen = Set<String>()
    return modules.map(\.name).filter { seen.insert($0).inserted }
  }
}

/// `a x b`, or `Int64.max` (`Int64.min` for a negative result) instead of an overflow trap.
func saturatingProduct(_ a: Int64, _ b: Int64) -> Int64 {
  let (product, overflow) = a.multipliedReportingOverflow(by: b)
  return overflow ? ((a < 0) != (b < 0) ? .min : .max) : product
}

/// `a + b`, or the bound it passes instead of an overflow trap.
func saturatingSum(_ a: Int64, _ b: Int64) -> Int64 {
  let (sum, overflow) = a.addingReportingOverflow(b)
  return overflow ? (b < 0 ? .min : .max) : sum
}

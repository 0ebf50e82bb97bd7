/// How a family of decoder-only transformers lays out its modules: the handful of facts
/// that differ between llama, qwen2/3, gemma/2/3, phi3, mixtral, qwen MoE, GLM-4 MoE, gpt-oss,
/// olmo2 and GPT-2.
///
/// Source: each family's `modeling_*.py` in transformers (the `__init__` of its attention,
/// MLP, MoE block and decoder layer).
public struct DecoderLayout: Hashable, Sendable {
  public enum Attention: Hashable, Sendable {
    /// `q_proj`, `k_proj`, `v_proj`, `o_proj`.
    case separate(queryKeyValueBias: Bool, outputBias: Bool)
    /// Phi-3's `qkv_proj` (hidden -> (heads + 2 kv heads) x head_dim) and `o_proj`.
    case fusedQueryKeyValue
    /// GPT-2's `attn.c_attn` (hidden -> 3 hidden) and `attn.c_proj`, with biases.
    case gpt2
  }

  public enum FeedForward: Hashable, Sendable {
    /// `gate_proj`, `up_proj`, `down_proj` (SwiGLU/GeGLU).
    case gated(bias: Bool)
    /// Phi-3's `gate_up_proj` (hidden -> 2 x intermediate) and `down_proj`.
    case fusedGateUp
    /// GPT-2's `mlp.c_fc` and `mlp.c_proj`, with biases, one activation (GELU).
    case plain
  }

  /// Per-head or per-projection RMSNorm on queries and keys.
  public enum QueryKeyNorm: Hashable, Sendable {
    case none
    /// Over head_dim (Qwen3, Gemma 3): `q_norm`, `k_norm` of head_dim elements each.
    case perHead
    /// Over the whole projection (OLMo 2): heads x head_dim and kv heads x head_dim elements.
    case perProjection
  }

  public enum PositionEmbedding: Hashable, Sendable {
    /// Rotary, over `dimension` of each head (`partial_rotary_factor` x head_dim), with
    /// `embeddingCount` rotary modules (Gemma 3 has a local and a global one).
    case rotary(dimension: Int64, embeddingCount: Int64)
    /// Learned absolute positions (GPT-2's `wpe`).
    case learned(positions: Int64)
  }

  public var attention: Attention
  public var feedForward: FeedForward
  public var queryKeyNorm: QueryKeyNorm
  /// Hidden-size norms per decoder layer (2 in most; 4 in Gemma 2/3).
  public var normsPerLayer: [String]
  /// Whether norms are LayerNorm with a bias (GPT-2) rather than RMSNorm.
  public var normHasBias: Bool
  public var positionEmbedding: PositionEmbedding
  /// Whether the rotary embedding ends in `torch.cat([rotated, passed])` (Phi-3's and GLM-4 MoE's
  /// `apply_rotary_pos_emb`), which leaves the query contiguous in `b x heads x s x d`.
  public var rotaryEndsInConcatenation: Bool
  /// gpt-oss's learned per-head attention sinks (`self_attn.sinks`, one value per query head),
  /// which transformers' SDPA path cannot take: such models run eager or flash attention.
  public var hasAttentionSinks: Bool = false
  public var mixtureOfExperts: MixtureOfExperts?
}

/// The sparse MoE block of Mixtral, Qwen2/3-MoE, GLM-4 MoE and gpt-oss.
public struct MixtureOfExperts: Hashable, Sendable {
  /// The module layout of the sparse block, which differs by family.
  public enum Style: Hashable, Sendable {
    /// Mixtral: `block_sparse_moe.gate` and `block_sparse_moe.experts.w1/w3/w2`.
    case mixtral
    /// Qwen2/3-MoE: `mlp.gate`, `mlp.experts.gate_proj/up_proj/down_proj`, and Qwen2-MoE's
    /// `mlp.shared_expert` with its sigmoid `mlp.shared_expert_gate` (hidden x 1).
    case qwen
    /// GLM-4 MoE (`Glm4MoeMoE`, DeepSeek-V3's block): `mlp.experts.gate_proj/up_proj/down_proj`,
    /// `mlp.shared_experts` (no gate), and a `Glm4MoeTopkRouter` whose weight is a bare
    /// `nn.Parameter` in transformers 4 and 5 alike, with an fp32 `e_score_correction_bias` buffer.
    case glm
    /// gpt-oss (`GptOssMLP`): `mlp.router` with weight and bias (a bare parameter pair), and
    /// `mlp.experts.gate_up_proj` (hidden -> 2 x intermediate) and `down_proj`, each with a bias,
    /// 3-D parameters in transformers 4 and 5 alike.
    case gptOss
  }

  public var style: Style
  public var expertCount: Int64
  public var expertsPerToken: Int64
  public var expertIntermediateSize: Int64
  /// The always-on shared expert's intermediate size (0 when there is none).
  public var sharedExpertIntermediateSize: Int64
  /// How many decoder layers are sparse (the rest use a dense MLP of `intermediate_size`).
  public var sparseLayerCount: Int64

  /// The router's module path.
  public var routerPath: String {
    switch style {
    case .mixtral: return "block_sparse_moe.gate"
    case .qwen, .glm: return "mlp.gate"
    case .gptOss: return "mlp.router"
    }
  }
  /// The router's role: an `nn.Linear` in transformers 4 (Mixtral, Qwen), a bare parameter (GLM, gpt-oss).
  public var routerRole: LinearModule.Role { [.glm, .gptOss].contains(style) ? .routerParameter : .router }
  /// The experts' role: `nn.Linear` in transformers 4 except gpt-oss's, fused in transformers 5.
  public var expertRole: LinearModule.Role { style == .gptOss ? .expertParameter : .expert }
  /// Whether the router and the experts carry biases, and gate and up are one fused tensor (gpt-oss).
  public var isGptOss: Bool { style == .gptOss }
  public var expertPaths: (gate: String, up: String, down: String) {
    style == .mixtral
      ? ("block_sparse_moe.experts.w1", "block_sparse_moe.experts.w3", "block_sparse_moe.experts.w2")
      : ("mlp.experts.gate_proj", "mlp.experts.up_proj", "mlp.experts.down_proj")
  }
  /// The shared expert's module path: `mlp.shared_expert` (Qwen2-MoE), `mlp.shared_experts` (GLM).
  public var sharedExpertPath: String { style == .glm ? "mlp.shared_experts" : "mlp.shared_expert" }
  /// Whether a sigmoid `shared_expert_gate` (hidden x 1) scales the shared expert (Qwen2-MoE).
  public var hasSharedExpertGate: Bool { style == .qwen }
  /// fp32 elements of non-parameter router buffers per sparse layer (GLM's `e_score_correction_bias`).
  public var routerBufferElements: Int64 { style == .glm ? expertCount : 0 }
  /// The config key that counts the experts, for errors.
  public var expertCountKey: String {
    switch style {
    case .mixtral: return "num_local_experts"
    case .qwen: return "num_experts"
    case .glm: return "n_routed_experts"
    case .gptOss: return "num_local_experts"
    }
  }
}

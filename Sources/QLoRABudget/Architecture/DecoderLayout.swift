/// How a family of decoder-only transformers lays out its modules: the handful of facts
/// that differ between llama, qwen2/3, gemma/2/3, phi3, mixtral, qwen MoE, olmo2 and GPT-2.
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
  public var mixtureOfExperts: MixtureOfExperts?
}

/// The sparse MoE block of Mixtral and Qwen2/3-MoE.
public struct MixtureOfExperts: Hashable, Sendable {
  public var expertCount: Int64
  public var expertsPerToken: Int64
  public var expertIntermediateSize: Int64
  /// Qwen2-MoE's always-on shared expert (0 when there is none).
  public var sharedExpertIntermediateSize: Int64
  /// How many decoder layers are sparse (the rest use a dense MLP of `intermediate_size`).
  public var sparseLayerCount: Int64
  /// Module paths: Mixtral's `block_sparse_moe.gate` and `experts.w1/w3/w2`, or Qwen's
  /// `mlp.gate` and `mlp.experts.gate_proj/up_proj/down_proj`.
  public var routerPath: String
  public var expertPaths: (gate: String, up: String, down: String) {
    routerPath.hasPrefix("block_sparse_moe")
      ? ("block_sparse_moe.experts.w1", "block_sparse_moe.experts.w3", "block_sparse_moe.experts.w2")
      : ("mlp.experts.gate_proj", "mlp.experts.up_proj", "mlp.experts.down_proj")
  }
}

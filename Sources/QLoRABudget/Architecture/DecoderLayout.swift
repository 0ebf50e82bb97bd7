/// How a family of decoder-only transformers lays out its modules: the handful of facts
/// that differ between llama, qwen2/3, gemma/2/3, phi3, mixtral, qwen MoE, GLM-4 MoE, gpt-oss,
/// Llama 4, DeepSeek-V3, olmo2 and GPT-2.
///
/// Source: each family's `modeling_*.py` in transformers (the `__init__` of its attention,
/// MLP, MoE block and decoder layer).
package struct DecoderLayout: Hashable, Sendable {
  public enum Attention: Hashable, Sendable {
    /// `q_proj`, `k_proj`, `v_proj`, `o_proj`.
    case separate(queryKeyValueBias: Bool, outputBias: Bool)
    /// Phi-3's `qkv_proj` (hidden -> (heads + 2 kv heads) x head_dim) and `o_proj`.
    case fusedQueryKeyValue
    /// GPT-2's `attn.c_attn` (hidden -> 3 hidden) and `attn.c_proj`, with biases.
    case gpt2
    /// DeepSeek-V3's multi-head latent attention (MLA): queries and keys/values pass through
    /// low-rank latents with their own RMSNorms (``LatentAttention``).
    case latent(LatentAttention)
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
  /// Whether a norm returns its input's dtype whatever its weight's (Gemma's RMSNorm:
  /// `output.type_as(x)`) rather than the product's (`weight * hidden_states.to(input_dtype)`).
  public var normReturnsInputDtype: Bool = false
  public var positionEmbedding: PositionEmbedding
  /// Whether the rotary embedding ends in `torch.cat([rotated, passed])` (Phi-3's and GLM-4 MoE's
  /// `apply_rotary_pos_emb`), which leaves the query contiguous in `b x heads x s x d`.
  public var rotaryEndsInConcatenation: Bool
  /// gpt-oss's learned per-head attention sinks (`self_attn.sinks`, one value per query head),
  /// which transformers' SDPA path cannot take: such models run eager or flash attention.
  public var hasAttentionSinks: Bool = false
  /// The decoder layer's MLP module name: `mlp`, or `feed_forward` (Llama 4).
  public var feedForwardPrefix: String = "mlp"
  public var mixtureOfExperts: MixtureOfExperts?
  /// Gemma 3n's AltUp, Laurel, per-layer inputs and KV sharing, when the model is Gemma 3n.
  public var gemma3n: Gemma3nLayout? = nil
}

/// DeepSeek-V3's multi-head latent attention (`DeepseekV3Attention`, transformers 4.57.1 and 5.25.0
/// `modeling_deepseek_v3.py`): `q_a_proj` (hidden -> `q_lora_rank`, bias `attention_bias`),
/// `q_a_layernorm`, `q_b_proj` (-> heads x (nope + rope)), or one `q_proj` when `q_lora_rank` is
/// null; `kv_a_proj_with_mqa` (hidden -> `kv_lora_rank` + rope, bias `attention_bias`),
/// `kv_a_layernorm` over the first `kv_lora_rank` of it, `kv_b_proj` (-> heads x (nope + v));
/// `o_proj` (heads x v -> hidden, bias `attention_bias`). Queries and keys are `nope + rope` wide
/// per head, values `v`; rotary runs over the `rope` part only.
public struct LatentAttention: Hashable, Sendable {
  /// `q_lora_rank`: the query latent's width, or nil for a plain `q_proj`.
  public var queryRank: Int64?
  /// `kv_lora_rank`: the key/value latent's width.
  public var keyValueRank: Int64
  /// `qk_nope_head_dim`, `qk_rope_head_dim`, `v_head_dim`.
  public var unrotatedHeadDimension: Int64
  public var rotaryHeadDimension: Int64
  public var valueHeadDimension: Int64
  /// `attention_bias`: on `q_a_proj`, `kv_a_proj_with_mqa` and `o_proj` only.
  public var hasBias: Bool

  /// A query's and a key's width per head: `qk_nope_head_dim + qk_rope_head_dim`.
  public var queryKeyHeadDimension: Int64 { unrotatedHeadDimension + rotaryHeadDimension }
  /// `kv_a_proj_with_mqa`'s output: the latent and the one shared rotary key.
  public var compressedWidth: Int64 { keyValueRank + rotaryHeadDimension }
}

/// The sparse MoE block of Mixtral, Qwen2/3-MoE, GLM-4 MoE, gpt-oss and Llama 4.
package struct MixtureOfExperts: Hashable, Sendable {
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
    /// Llama 4 (`Llama4TextMoe`): `feed_forward.router` (`Llama4Router`, an `nn.Linear` subclass),
    /// `feed_forward.experts.gate_up_proj` / `down_proj` (`Llama4TextExperts`, fused 3-D parameters
    /// without biases in transformers 4 and 5 alike) and `feed_forward.shared_expert` (no gate).
    case llama4
  }

  public var style: Style
  public var expertCount: Int64
  public var expertsPerToken: Int64
  public var expertIntermediateSize: Int64
  /// The always-on shared expert's intermediate size (0 when there is none).
  public var sharedExpertIntermediateSize: Int64
  /// How many decoder layers are sparse (the rest use a dense MLP of `intermediate_size`).
  public var sparseLayerCount: Int64

  /// Expert rows computed per token: `expertsPerToken` under top-k dispatch; every expert for
  /// Llama 4, whose `Llama4TextMoe` repeats each token to all `num_local_experts` experts, scaled by
  /// its router score (zero outside the top k), and runs them as one `bmm` (`Llama4TextExperts`).
  public var expertRowsPerToken: Int64 { style == .llama4 ? expertCount : expertsPerToken }

  /// The router's module path.
  public var routerPath: String {
    switch style {
    case .mixtral: return "block_sparse_moe.gate"
    case .qwen, .glm: return "mlp.gate"
    case .gptOss: return "mlp.router"
    case .llama4: return "feed_forward.router"
    }
  }
  /// The router's role: an `nn.Linear` in transformers 4 (Mixtral, Qwen), a bare parameter (GLM,
  /// gpt-oss), an `nn.Linear` subclass (Llama 4).
  public var routerRole: LinearModule.Role {
    switch style {
    case .mixtral, .qwen: return .router
    case .glm, .gptOss: return .routerParameter
    case .llama4: return .routerLinearSubclass
    }
  }
  /// The experts' role: `nn.Linear` in transformers 4 except gpt-oss's and Llama 4's, fused in transformers 5.
  public var expertRole: LinearModule.Role { hasFusedGateUpExperts ? .expertParameter : .expert }
  /// Whether the router and the experts carry biases (gpt-oss).
  public var isGptOss: Bool { style == .gptOss }
  /// Whether each layer's experts are one fused `gate_up_proj` (E x hidden x 2 intermediate) and one
  /// `down_proj` parameter (gpt-oss, Llama 4) rather than per-expert gate/up/down.
  public var hasFusedGateUpExperts: Bool { [.gptOss, .llama4].contains(style) }
  /// The path under which the fused experts sit.
  public var fusedExpertsPath: String { style == .llama4 ? "feed_forward.experts" : "mlp.experts" }
  public var expertPaths: (gate: String, up: String, down: String) {
    style == .mixtral
      ? ("block_sparse_moe.experts.w1", "block_sparse_moe.experts.w3", "block_sparse_moe.experts.w2")
      : ("mlp.experts.gate_proj", "mlp.experts.up_proj", "mlp.experts.down_proj")
  }
  /// The shared expert's module path: `mlp.shared_expert` (Qwen2-MoE), `mlp.shared_experts` (GLM).
  public var sharedExpertPath: String {
    switch style {
    case .glm: return "mlp.shared_experts"
    case .llama4: return "feed_forward.shared_expert"
    default: return "mlp.shared_expert"
    }
  }
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
    case .gptOss, .llama4: return "num_local_experts"
    }
  }
}

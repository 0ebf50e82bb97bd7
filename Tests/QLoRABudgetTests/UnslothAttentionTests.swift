import Foundation
import Testing

@testable import QLoRABudget

/// The attention Unsloth's own layers run (``Recipe/ownLayerAttention``): xformers after a plain
/// `pip install unsloth` (its wheels require xformers and never flash-attn), flash-attn when it is
/// installed. Figures written out from unsloth 2026.8 `utils/attention_dispatch.py` `run_attention`
/// (xformers branch: `K_t.view(bsz, kv_seq_len, n_kv_heads, 1, head_dim).expand(...)
/// .reshape(bsz, kv_seq_len, n_heads, head_dim)` when `requires_grad`) and xformers `_fMHA.forward`
/// (`ctx.save_for_backward(query, key, value, out, lse)`).
@Suite struct UnslothAttentionTests {
  /// A Llama of hidden 512 with 8 query heads of 32 (q width 256) and 2 key/value heads (kv width
  /// 64), MLP 1,024, 2 layers: every attention tensor has a size no other tensor of the layer has.
  static func groupedQueryModel() throws -> ModelArchitecture {
    try TestData.model([
      "model_type": "llama", "hidden_size": 512, "num_hidden_layers": 2, "num_attention_heads": 8,
      "num_key_value_heads": 2, "head_dim": 32, "intermediate_size": 1024, "vocab_size": 1000,
      "tie_word_embeddings": false,
    ])
  }

  /// Batch 2 x 1,024 tokens (T = 2,048), bf16, r8 on every linear layer, Unsloth's defaults
  /// (dropout 0, checkpointing on).
  static func setup(_ attention: AttentionImplementation? = nil) -> TrainingSetup {
    var setup = TrainingSetup()
    setup.recipe = .unsloth
    setup.lora = LoRAConfiguration(rank: 8, targets: .allLinear)
    setup.sequenceLength = 1024
    setup.batchSize = 2
    setup.givenAttention = attention
    return setup
  }

  // Bytes written out from the shapes (b 2, s 1,024, 8 heads, 2 kv heads, head_dim 32, bf16):
  /// q, the attention output, and each of k and v copied to every head: 2 x 1,024 x 8 x 32 x 2.
  static let perHead: Int64 = 1_048_576
  /// k or v as the projection made it: 2 x 1,024 x 2 x 32 x 2.
  static let unexpanded: Int64 = 262_144
  /// The log-sum-exp: 2 x 8 x 1,024 x 4 (fp32).
  static let logSumExp: Int64 = 65_536

  static func attentionTerms(_ setup: TrainingSetup) throws -> (LayerActivations, [TensorTerm]) {
    let model = try groupedQueryModel()
    let context = StepContext(model: model, setup: setup)
    let adapted = try MemoryEstimator.loraTargets(model, setup)
    let layer = LayerActivations.layers(context, adapted: adapted).dense
    return (layer, Array(layer.attentionSavedTerms))
  }

  @Test func theRecipeRunsXformersInItsOwnLayersOnly() throws {
    let llama = try Self.groupedQueryModel()
    #expect(Self.setup().attention(for: llama) == .xformers)
    #expect(Self.setup(.flash).attention(for: llama) == .flash)
    #expect(Self.setup(.sdpa).attention(for: llama) == .sdpa)
    // A model type Unsloth sends to FastModel runs transformers' layers: SDPA.
    let gemma = try TestData.model([
      "model_type": "gemma", "hidden_size": 512, "num_hidden_layers": 2, "num_attention_heads": 8,
      "num_key_value_heads": 2, "head_dim": 32, "intermediate_size": 1024, "vocab_size": 1000,
    ])
    #expect(Self.setup().attention(for: gemma) == .sdpa)
    var peft = TrainingSetup()
    peft.recipe = .hfPeft
    #expect(peft.attention(for: llama) == .sdpa)
    // transformers has no xformers attention: installed, it leaves transformers' layers on SDPA.
    peft.givenAttention = .xformers
    #expect(peft.attention(for: llama) == .sdpa)
  }

  /// Saved by the recomputed layer's attention: q, k and v copied to every head (two tensors),
  /// the output, the log-sum-exp: 4 x 1,048,576 + 65,536. The unexpanded k and v (2 x 262,144)
  /// are held beside the copies in forward until the attention returns.
  @Test func xformersSavesKeyAndValueCopiedToEveryHead() throws {
    let (layer, terms) = try Self.attentionTerms(Self.setup())
    let copies = try #require(terms.first { $0.name.hasPrefix("k, v copied to every query head") })
    #expect(copies.parts == [ByteCount(Self.perHead), ByteCount(Self.perHead)])
    #expect(terms.first { $0.name == "q" }?.bytes == ByteCount(Self.perHead))
    #expect(terms.first { $0.name == "attention output" }?.bytes == ByteCount(Self.perHead))
    #expect(terms.first { $0.name == "log-sum-exp" }?.bytes == ByteCount(Self.logSumExp))
    #expect(layer.forwardTransients == [ByteCount(Self.unexpanded), ByteCount(Self.unexpanded)])
  }

  /// flash-attn takes grouped-query attention natively: the same layer saves k and v unexpanded,
  /// 2 x (1,048,576 - 262,144) = 1,572,864 B less, and holds no unexpanded copy beside them.
  @Test func flashAttentionSavesTheUnexpandedKeyValue() throws {
    let (xformers, _) = try Self.attentionTerms(Self.setup())
    let (flash, terms) = try Self.attentionTerms(Self.setup(.flash))
    #expect(xformers.savedBytes - flash.savedBytes == ByteCount(1_572_864))
    #expect(
      terms.first { $0.name.hasPrefix("k, v") }?.parts == [ByteCount(Self.unexpanded), ByteCount(Self.unexpanded)])
    #expect(flash.forwardTransients.isEmpty)
  }

  /// The allocation schedule carries the copies as tensors of their own: each attention block
  /// (two layers, each walked in the warm-up's and the measured step's forward and again when
  /// backward recomputes it: 8 blocks) allocates two more 1,048,576 B tensors under xformers than
  /// under flash-attn, backward (4 blocks) their two gradients, and the checkpointed forwards
  /// (4 blocks) the two unexpanded 262,144 B ones.
  @Test func theScheduleAllocatesTheCopies() throws {
    let model = try Self.groupedQueryModel()
    let gpu = GPU.custom(capacity: .gibibytes(80), label: "80GiB")
    func count(_ attention: AttentionImplementation, bytes: Int64, _ tensor: ScheduledTensor? = nil) throws -> Int {
      let schedule = try MemoryEstimator.schedule(
        model: model, setup: Self.setup(attention), gpu: gpu, loader: .sequential)
      return schedule.events.filter {
        guard case .allocate(_, let size, let kind) = $0 else { return false }
        return size == bytes && (tensor == nil || kind == tensor)
      }.count
    }
    // Every attention block, checkpointed forward or backward's recompute (recomputed layer
    // tensors), holds the two copies, each a tensor of its own.
    #expect(
      try count(.xformers, bytes: Self.perHead, .recomputedActivation)
        - count(.flash, bytes: Self.perHead, .recomputedActivation) == 2 * 8)
    // Backward's attention (4 blocks) makes the copies' two gradients.
    #expect(
      try count(.xformers, bytes: Self.perHead, .backwardTemporary)
        - count(.flash, bytes: Self.perHead, .backwardTemporary) == 2 * 4)
    #expect(
      try count(.xformers, bytes: Self.unexpanded, .forwardTemporary)
        - count(.flash, bytes: Self.unexpanded, .forwardTemporary) == 2 * 4)
  }

  /// Unsloth's qwen3 normalises q and k per head with `fast_rms_layernorm` (models/qwen3.py), which
  /// saves its input as it is and an fp32 rsqrt per row: per token (256 + 64) x 2 = 640 B of inputs
  /// and (8 + 2) x 4 = 40 B of rsqrt, x 2,048 tokens: 1,310,720 and 81,920.
  @Test func qwen3QueryKeyNormsKeepTheirRsqrt() throws {
    let qwen3 = try TestData.model([
      "model_type": "qwen3", "hidden_size": 512, "num_hidden_layers": 2, "num_attention_heads": 8,
      "num_key_value_heads": 2, "head_dim": 32, "intermediate_size": 1024, "vocab_size": 1000,
      "tie_word_embeddings": false,
    ])
    let context = StepContext(model: qwen3, setup: Self.setup())
    let layer = LayerActivations.layers(context, adapted: try MemoryEstimator.loraTargets(qwen3, Self.setup())).dense
    let terms = Array(layer.attentionSavedTerms)
    #expect(terms.first { $0.name == "q/k norm inputs" }?.bytes == ByteCount(1_310_720))
    #expect(terms.first { $0.name.hasPrefix("q/k norms' fp32 rsqrt") }?.bytes == ByteCount(81_920))
    var peft = Self.setup()
    peft.recipe = .hfPeft
    let transformers = LayerActivations.layers(
      StepContext(model: qwen3, setup: peft), adapted: try MemoryEstimator.loraTargets(qwen3, peft)
    ).dense
    #expect(!transformers.saved.contains { $0.name.hasPrefix("q/k norms' fp32 rsqrt") })
  }
}

import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The token-chunked losses of the torchtune, LitGPT and TRL recipes, against arithmetic written
/// out here: llama-3.1-8b (h = 4,096, V = 128,256), batch 2 x 2,048 tokens (T = 4,096), bf16
/// residual stream (these recipes upcast nothing), no autocast.
@Suite struct RecipeLossTests {
  static let tokens: Int64 = 2 * 2048
  static let vocabulary: Int64 = 128_256
  /// The final norm (RMSNorm computes in fp32, `x.float()`, in all three frameworks) keeps that
  /// fp32 copy of its input and the fp32 rsqrt; the labels are int64.
  static let finalNorm: Int64 = tokens * 4096 * 4 + tokens * 4
  static let labels: Int64 = tokens * 8

  static func logits(_ recipe: Recipe) throws -> Int64 {
    var setup = TrainingSetup()
    setup.recipe = recipe
    setup.batchSize = 2
    setup.sequenceLength = 2048
    setup.usesAutocast = false
    let model = try PresetCatalog.bundled.model(named: "llama-3.1-8b")
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    return estimate.bytes(of: .logits).bytes
  }

  /// torchtune, 8 chunks of 512 tokens: every chunk's fp32 log-softmax saved; backward makes one
  /// chunk's two fp32 gradients (larger than forward's one chunk of bf16 logits + fp32 upcast).
  @Test func torchtuneKeepsEveryChunksLogSoftmax() throws {
    let chunk: Int64 = 512 * Self.vocabulary
    let saved = Self.tokens * Self.vocabulary * 4
    let forward = Self.finalNorm + chunk * (2 + 4) + saved + Self.labels
    let backward = Self.finalNorm + saved + 2 * chunk * 4 + Self.labels
    #expect(backward > forward)
    #expect(try Self.logits(.torchtune) == backward)  // 2,660,286,464
  }

  /// LitGPT, 128-token chunks: the bf16 logit chunks are kept and each chunk's bf16 log-softmax saved.
  @Test func litgptKeepsBF16LogitsAndLogSoftmax() throws {
    let all = Self.tokens * Self.vocabulary * 2
    let backward = Self.finalNorm + all + 2 * 128 * Self.vocabulary * 2 + all + Self.labels
    #expect(try Self.logits(.litgpt) == backward)
  }

  /// TRL's chunked_nll, 256-token chunks under checkpointing: one chunk's bf16 logits, fp32 upcast
  /// and fp32 log-softmax at a time, recomputed in backward beside its two fp32 gradients.
  @Test func trlCheckpointsEachChunk() throws {
    let chunk: Int64 = 256 * Self.vocabulary
    let backward = Self.finalNorm + 2 * chunk * 4 + Self.labels + chunk * (2 + 4 + 4)
    #expect(try Self.logits(.trl) == backward)
  }
}

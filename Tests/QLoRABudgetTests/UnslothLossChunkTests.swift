import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// Unsloth's fused cross-entropy splits the tokens as unsloth_zoo `get_chunk_size` does: 16 B
/// per logit against a budget of `min(free / 2, 4 GiB)`, less the unchunkable input gradient,
/// rounded up to a multiple of 4 chunks (unsloth_zoo fused_losses/cross_entropy_loss.py).
@Suite struct UnslothLossChunkTests {
  static let gib: Int64 = 1 << 30

  /// The cases of unsloth_zoo's own tests, with the arithmetic written out.
  @Test func chunkCountFollowsGetChunkSize() {
    // 2,048 x 65,536 x 16 B = 2 GiB, within a 4 GiB budget: one chunk
    // (test_small_logits_stay_single_chunk).
    #expect(LogitsAndLoss.unslothChunks(tokens: 2_048, vocabulary: 65_536, fixed: .zero, budget: .gibibytes(4)) == 1)
    // 16,384 x 151,936 x 16 B = 39,829,110,784 B; over 4 x 4 GiB = 17,179,869,184 B that is
    // 2.32, rounded up to 3, times 4: 12 chunks.
    #expect(16_384 * 151_936 * 16 == 39_829_110_784)
    #expect(LogitsAndLoss.unslothChunks(tokens: 16_384, vocabulary: 151_936, fixed: .zero, budget: .gibibytes(4)) == 12)
    // 2 GiB that no chunking shrinks leave a 2 GiB target: 39,829,110,784 / 8 GiB = 4.64 -> 5 -> 20
    // (test_unchunkable_memory_is_charged_to_the_target: more chunks than without).
    #expect(
      LogitsAndLoss.unslothChunks(tokens: 16_384, vocabulary: 151_936, fixed: .gibibytes(2), budget: .gibibytes(4))
        == 20)
    // Fixed bytes above the budget are not subtracted (test_fixed_larger_than_target_does_not_explode_chunks).
    #expect(
      LogitsAndLoss.unslothChunks(tokens: 16_384, vocabulary: 151_936, fixed: .gibibytes(5), budget: .gibibytes(4))
        == 12)
    // At most one token a chunk: 3 x 151,936 x 16 B = 7,292,928 B over 4 x 1 KiB is 1,780.5 -> 7,124, capped at 3.
    #expect(LogitsAndLoss.unslothChunks(tokens: 3, vocabulary: 151_936, fixed: .zero, budget: .kibibytes(1)) == 3)
    // Nothing free: one token a chunk.
    #expect(LogitsAndLoss.unslothChunks(tokens: 4_096, vocabulary: 151_936, fixed: .zero, budget: .zero) == 4_096)
  }

  /// On a card with little memory the chunks are sized from what is free, not the 4 GiB cap: the
  /// chunk is at most half of the capacity less the CUDA context and the resident bytes (which
  /// the allocator holds when the loss runs, so at least that much is not free), less the input
  /// gradient.
  @Test func aSmallCardGetsSmallerChunks() throws {
    let model = try PresetCatalog.bundled.model(named: "llama-3.1-8b")
    var setup = TrainingSetup()
    setup.recipe = .unsloth
    setup.sequenceLength = 2_972
    let gpu = try PresetCatalog.bundled.gpu(named: "rtx-4060")
    let walk = try MemoryEstimator.Walk(model: model, setup: setup, gpu: gpu)
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
    let loss = walk.step.loss
    let chunking = try #require(loss.unslothChunking)
    let tokens = setup.sequenceLength
    let chunkLogits = loss.chunk.bytes - tokens * 4
    let freeAtMost = gpu.capacity.bytes - walk.transient.context.bytes - estimate.residentBytes.bytes
    #expect(chunking.budget.bytes <= freeAtMost / 2)
    #expect(chunkLogits <= freeAtMost / 2 - loss.inputGradient.bytes)
    // Each chunk is ceil(tokens / chunks) tokens of 128,256 logits at 16 B.
    let chunkTokens = (tokens + chunking.chunks - 1) / chunking.chunks
    #expect(chunkLogits == chunkTokens * 128_256 * 16)
    // The whole loss would be 2,972 x 128,256 x 16 B = 6,098,845,696 B: more than one chunk.
    #expect(chunking.chunks > 1)
  }

  /// With half the free memory above 4 GiB (an 80 GB card) the cap holds, as with no GPU given.
  @Test func aLargeCardKeepsTheCap() throws {
    let model = try PresetCatalog.bundled.model(named: "llama-3.1-8b")
    var setup = TrainingSetup()
    setup.recipe = .unsloth
    setup.sequenceLength = 8_192
    let large = try MemoryEstimator.Walk(
      model: model, setup: setup, gpu: try PresetCatalog.bundled.gpu(named: "a100-80gb"))
    let none = try MemoryEstimator.Walk(model: model, setup: setup, gpu: nil)
    #expect(large.step.loss.unslothChunking?.budget == .gibibytes(4))
    #expect(large.step.loss.chunk == none.step.loss.chunk)
    // 8,192 x 128,256 x 16 B = 16,810,770,432 B; less the 8,192 x 4,096 x 2 B input gradient the
    // target is 4,227,858,432 B; 16,810,770,432 / (4 x 4,227,858,432) = 0.99 -> 1 -> 4 chunks of
    // 2,048 tokens.
    #expect(8_192 * 128_256 * 16 == 16_810_770_432)
    #expect(large.step.loss.unslothChunking?.chunks == 4)
    #expect(large.step.loss.chunk.bytes == 2_048 * 128_256 * 16 + 8_192 * 4)
  }
}

/// The planners bisect a bound that grows with the setting (``FloorEvaluation/boundVerdict``):
/// Unsloth's floor falls where its chunk count steps up (from one chunk, the standard loss, to
/// four), so bisecting the floor itself could stop below values that are accepted.
@Suite struct UnslothSearchBoundTests {
  @Test func theBoundNeverImprovesAsTheSequenceGrowsWhereTheFloorFalls() throws {
    let model = try PresetCatalog.bundled.model(named: "llama-3.1-8b")
    var setup = TrainingSetup()
    setup.recipe = .unsloth
    setup.lora.rank = 16
    var floorFell = false
    for gigabytes: Int64 in [8, 12, 16] {
      let gpu = GPU.custom(capacity: .gigabytes(gigabytes), label: "\(gigabytes) GB")
      var previous: (floor: ByteCount, bound: Verdict)?
      for length in stride(from: Int64(768), through: 3_072, by: 256) {
        setup.sequenceLength = length
        let floor = try FloorEvaluation(setup: setup, gpu: gpu, model: model)
        // A lower bound: never worse than the floor's verdict, so nothing it rejects is accepted.
        #expect(floor.boundVerdict.isAccepted(upTo: floor.verdict), "\(gigabytes) GB, \(length) tokens")
        if let previous {
          #expect(previous.bound.isAccepted(upTo: floor.boundVerdict), "\(gigabytes) GB, \(length) tokens")
          if floor.bytes < previous.floor { floorFell = true }
        }
        previous = (floor.bytes, floor.boundVerdict)
      }
    }
    // The case exists: somewhere a longer sequence's floor is below a shorter one's (on a card
    // with room for the whole loss in one chunk at the shorter length, four at the longer).
    #expect(floorFell)
  }
}

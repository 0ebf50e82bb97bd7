import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// A checkpointed layer's recompute in backward saves each of its tensors on its own, as
/// transformers 4.45.2's MistralDecoderLayer does on torch 2.4.1 (recorded on the meta device with
/// the real transformers / peft / bitsandbytes code, docs/estimation.md, "The schedule"): the MLP's
/// gate output (`_to_copy` of the 4-bit projection's bf16 `mm` back to the fp32 residual's dtype),
/// `silu`'s output and the up output are three tensors, not one block of their sum.
/// fms-acceleration's baseline-peft-bnb setup (p2-045): Mistral-7B-v0.1 (hidden 4,096, MLP 14,336,
/// vocabulary 32,000), 4 x 4,096 = 16,384 tokens, fp32 norm weights so every layer input but the
/// first is fp32.
@Suite struct RecomputedTensorsScheduleTests {
  /// One MLP tensor in fp32: 16,384 x 14,336 x 4 B.
  static let mlpTensor: Int64 = 16_384 * 14_336 * 4
  /// The fp32 logits, the size of the blocks the loss frees before the layers' backward:
  /// 16,384 x 32,000 x 4 B.
  static let fp32Logits: Int64 = 16_384 * 32_000 * 4

  static func setup() throws -> TrainingSetup {
    try AllocationScheduleTests.setup(
      "--recipe qlora-paper --double-quant true --dtype bf16 --rank 16 --alpha 16 "
        + "--targets q_proj,k_proj,v_proj,o_proj --lora-dropout 0.1 --seq-len 4096 --batch 4 --attn flash "
        + "--autocast true --grad-ckpt true --loop trainer --optimizer adamw --loss fp32-logits")
  }

  @Test func theRecomputedMLPSavesThreeTensors() throws {
    #expect(Self.mlpTensor == 939_524_096)
    let model = try PresetCatalog.bundled.model(named: "mistral-7b-v0.1")
    let schedule = try MemoryEstimator.schedule(
      model: model, setup: try Self.setup(), gpu: GPU.custom(capacity: .gibibytes(80), label: "80GiB"),
      loader: .sequential)
    let start = try #require(schedule.events.firstIndex { if case .phase(.backward) = $0 { true } else { false } })
    let recomputed = schedule.events[start...].compactMap { event -> Int64? in
      if case .allocate(_, let bytes, .recomputedActivation) = event { return bytes }
      return nil
    }
    // 32 layers, each recomputing the gate, activation and up outputs as tensors of their own.
    #expect(recomputed.filter { $0 == Self.mlpTensor }.count == 3 * 32)
    #expect(!recomputed.contains(3 * Self.mlpTensor))
  }

  /// The recorded sequence, replayed through the allocator study's simulation after the schedule's
  /// loading, has 2,000, 1,104 and 640 MiB free at the step's allocated peak (in backward): one loss
  /// block whole, one with a recomputed MLP tensor in it, and an MLP block with a layer input in it.
  @Test func theLossBlocksHoldTheRecomputedTensorsAtThePeak() throws {
    let model = try PresetCatalog.bundled.model(named: "mistral-7b-v0.1")
    let estimate = try MemoryEstimator.estimate(
      model: model, setup: try Self.setup(), gpu: GPU.custom(capacity: .gibibytes(80), label: "80GiB"))
    let blocks = try #require(estimate.reserve).largestFreeBlocks.map(\.bytes.bytes)
    #expect(blocks.first == Self.fp32Logits)
    #expect(blocks.dropFirst().first == Self.fp32Logits - Self.mlpTensor)
    #expect(blocks.count == 3 && blocks[2] < Self.mlpTensor)
  }
}

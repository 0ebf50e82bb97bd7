import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The loss's transients below the moments (issue 17), as transformers 4.45.2's
/// MistralForCausalLM makes them on torch 2.4.1 (recorded on the meta device with the real
/// transformers / peft / bitsandbytes code, docs/estimation.md, "The schedule": the loss's transients):
/// fms-acceleration's p2-041 setup, Mistral-7B (vocabulary 32,000) at 8 x 4,096 = 32,768 tokens.
/// Every logit is 32,768 x 32,000 = 1,048,576,000 elements: 2,097,152,000 B in bf16,
/// 4,194,304,000 B in fp32.
@Suite struct LossTransientsScheduleTests {
  static let bf16Logits: Int64 = 32_768 * 32_000 * 2
  static let fp32Logits: Int64 = 32_768 * 32_000 * 4

  /// The measured step's events of `tensor`: each allocation's bytes, with the bytes of that
  /// kind still live when it is made; and the kind's frees, in order, as the ids they free.
  static func walk(_ flags: String, _ tensor: ScheduledTensor) throws -> (
    allocations: [(bytes: Int64, liveBefore: [Int64])], events: [AllocationSchedule.Event]
  ) {
    #expect(Self.bf16Logits == 2_097_152_000 && Self.fp32Logits == 4_194_304_000)
    let model = try PresetCatalog.bundled.model(named: "mistral-7b-v0.1")
    let setup = try AllocationScheduleTests.setup(
      "--recipe llama-factory --rank 16 --alpha 16 --targets q_proj,k_proj,v_proj,o_proj --lora-dropout 0.1 "
        + "--seq-len 4096 --batch 8 --attn flash --autocast true --grad-ckpt true --loop trainer " + flags)
    let schedule = try MemoryEstimator.schedule(
      model: model, setup: setup, gpu: GPU.custom(capacity: .gibibytes(80), label: "80GiB"), loader: .sequential)
    // The measured step starts at its forward phase (the warm-up step marks none).
    let start = try #require(schedule.events.firstIndex { if case .phase(.forward) = $0 { true } else { false } })
    let step = Array(schedule.events[start...])
    var live: [Int32: Int64] = [:]
    var allocations: [(bytes: Int64, liveBefore: [Int64])] = []
    for event in step {
      switch event {
      case .allocate(let id, let bytes, let kind) where kind == tensor:
        allocations.append((bytes, live.keys.sorted().map { live[$0]! }))
        live[id] = bytes
      case .free(let id): live[id] = nil
      default: break
      }
    }
    return (allocations, step)
  }

  @Test func theFP32LogitsLossMakesItsBF16HeadOutputAndFreesItAtTheUpcast() throws {
    let (_, events) = try Self.walk("--loss fp32-logits", .logits)
    let head = try #require(
      events.firstIndex {
        if case .allocate(_, Self.bf16Logits, .logits) = $0 { true } else { false }
      })
    guard case .allocate(let headID, _, _) = events[head] else { throw TestFailure() }
    // The fp32 copy next, then the 16-bit output is freed.
    guard case .allocate(_, Self.fp32Logits, .logits) = events[head + 1] else {
      Issue.record("expected the fp32 logits after the bf16 head output, got \(events[head + 1])")
      return
    }
    guard case .free(headID) = events[head + 2] else {
      Issue.record("expected the bf16 head output freed at the upcast, got \(events[head + 2])")
      return
    }
  }

  @Test func theFP32LogitsLossBackwardMakesTheSliceAndUpcastGradients() throws {
    let (allocations, _) = try Self.walk("--loss fp32-logits", .lossGradient)
    // nll_loss's, log_softmax's (beside nll_loss's), then log_softmax's input gradient goes:
    // the vocabulary slice's, the token slice's (fp32, every token), the upcast's (bf16).
    #expect(allocations.map(\.bytes) == [fp, fp, fp, fp, bf])
    #expect(allocations.map(\.liveBefore) == [[], [fp], [fp], [fp], [fp]])
  }

  @Test func theStandardLossBackwardMakesTheUpcastGradientOnly() throws {
    let (allocations, _) = try Self.walk("--loss standard", .lossGradient)
    #expect(allocations.map(\.bytes) == [fp, fp, bf])
    #expect(allocations.map(\.liveBefore) == [[], [fp], [fp]])
    // No 16-bit head output beside the logits: the standard loss's logits are that output.
    let (logits, _) = try Self.walk("--loss standard", .logits)
    #expect(logits.filter { $0.bytes == bf }.count == 1)
  }

  private var fp: Int64 { Self.fp32Logits }
  private var bf: Int64 { Self.bf16Logits }
  struct TestFailure: Error {}
}

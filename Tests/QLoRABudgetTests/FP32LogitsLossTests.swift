import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The fp32-logits loss (transformers <= 4.45: `LlamaForCausalLM.forward` returns
/// `logits.float()` and the loss shifts them with `logits[..., :-1, :].contiguous()`), against
/// arithmetic written out here: llama-2-7b (h = 4,096, V = 32,000), batch 2 x 2,048 tokens
/// (T = 4,096), the trl recipe's all-bf16 dtypes, no autocast.
@Suite struct FP32LogitsLossTests {
  static let tokens: Int64 = 2 * 2048
  static let vocabulary: Int64 = 32_000
  /// One `tokens x vocab` fp32 tensor: 2 x 2,048 x 32,000 x 4 B = 524,288,000 B.
  static let fp32Logits: Int64 = tokens * vocabulary * 4
  /// The final RMSNorm keeps its fp32 input copy and the fp32 rsqrt; the labels are int64.
  static let finalNorm: Int64 = tokens * 4096 * 4 + tokens * 4
  static let labels: Int64 = tokens * 8
  /// The final norm's bf16 output (`last_hidden_state`), live while the loss runs in forward.
  static let lastHidden: Int64 = tokens * 4096 * 2

  static func setup(_ loss: LossKind, _ loop: TrainingLoop) -> TrainingSetup {
    var setup = TrainingSetup()
    setup.recipe = .trl
    setup.loss = loss
    setup.loop = loop
    setup.batchSize = 2
    setup.sequenceLength = 2048
    setup.usesAutocast = false
    return setup
  }

  static func logitsRow(_ loss: LossKind, _ loop: TrainingLoop) throws -> Int64 {
    let model = try PresetCatalog.bundled.model(named: "llama-2-7b")
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup(loss, loop), gpu: nil)
    return estimate.bytes(of: .logits).bytes
  }

  /// The settings vocabulary's name parses to it; it chunks nothing and names no chunked implementation.
  @Test func isAFullLogitsLossByItsCommandLineName() throws {
    #expect(try Setting.loss.parse("fp32-logits") == .loss(.fp32Logits))
    let setup = Self.setup(.fp32Logits, .plain)
    #expect(!setup.usesChunkedCrossEntropy)
    #expect(setup.lossImplementation == nil)
    try setup.validate()
  }

  /// HF Trainer's loop: forward holds the fp32 logits the model returns, their shifted fp32 copy
  /// and the fp32 log-softmax (3 x 524,288,000 B) beside the final norm's tensors; backward's
  /// log-softmax and two fp32 gradients are as large but without `last_hidden_state`.
  @Test func trainerLoopForwardHoldsThreeFP32Tensors() throws {
    let forward = Self.finalNorm + Self.lastHidden + 3 * Self.fp32Logits + Self.labels
    let backward = Self.finalNorm + 3 * Self.fp32Logits + Self.labels
    #expect(forward > backward)
    #expect(try Self.logitsRow(.fp32Logits, .trainer) == forward)  // 1,673,576,448
    // transformers >= 4.46 returns bf16 logits: the standard loss's forward (2 + 4 + 4 B per logit)
    // stays under its backward (3 x 4 B), the same as the fp32-logits backward.
    #expect(try Self.logitsRow(.standard, .trainer) == backward)
  }

  /// A plain loop keeps `out.logits` through backward: fp32 here, so backward's moment is the
  /// log-softmax, two fp32 gradients and the held fp32 logits (4 x 524,288,000 B).
  @Test func plainLoopHoldsTheFP32Logits() throws {
    let backward = Self.finalNorm + 4 * Self.fp32Logits + Self.labels
    #expect(try Self.logitsRow(.fp32Logits, .plain) == backward)  // 2,164,310,016
    let model = try PresetCatalog.bundled.model(named: "llama-2-7b")
    func phases(_ loop: TrainingLoop) throws -> StepProfile {
      var setup = Self.setup(.fp32Logits, loop)
      setup.platform = .cpu
      return try MemoryEstimator.stepProfile(model: model, setup: setup)
    }
    let trainer = try phases(.trainer)
    let plain = try phases(.plain)
    for phase in [StepPhase.backward, .optimizer] {
      let a = try #require(trainer.phases.first { $0.name == phase }?.bytes.bytes)
      let b = try #require(plain.phases.first { $0.name == phase }?.bytes.bytes)
      #expect(b - a == Self.fp32Logits, "\(phase)")
    }
  }
}

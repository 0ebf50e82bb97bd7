import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs
@testable import QLoRABudgetValidation

/// The litgpt recipe's own model code (``FrameworkModelCode``): LitGPT's fused q/k/v with one LoRA
/// module, bitsandbytes 0.41-0.42's 4-bit matmuls keeping their inputs, the previous step alive
/// through the next forward, an own 4-bit lm_head dequantized through fp16. The expected bytes are
/// written out here from the tensors' shapes (docs/recipes.md, LitGPT).
@Suite struct LitGPTStepTests {
  /// Llama-2-7B (32 layers, hidden 4,096, MLP 11,008, 32 heads = 32 key/value heads, vocabulary
  /// 32,000) at 512 tokens x 2, LoRA r 32 on q and v with dropout: the config hub's setup (row 034).
  static func configHubSetup() -> TrainingSetup {
    var setup = TrainingSetup()
    setup.recipe = .litgpt
    setup.lora.rank = 32
    setup.lora.targets = .modules(["q_proj", "v_proj"])
    setup.lora.givenDropout = 0.05
    setup.sequenceLength = 512
    setup.batchSize = 2
    setup.usesDoubleQuantization = false
    setup.optimizer = .pagedAdamw
    setup.usesAutocast = false
    return setup
  }

  static func walk(_ model: String, _ setup: TrainingSetup) throws -> MemoryEstimator.Walk {
    try MemoryEstimator.Walk(model: try PresetCatalog.bundled.model(named: model), setup: setup, gpu: nil)
  }

  /// One decoder layer's saved tensors, tensor by tensor (1,024 tokens; bf16 = 2 B).
  @Test func aLayerSavesWhatLitGPTsCodeSaves() throws {
    let step = try Self.walk("llama-2-7b", Self.configHubSetup()).step
    let tokens: Int64 = 1024
    let hidden: Int64 = 4096
    let norm = tokens * hidden * 4 + tokens * 4  // RMSNorm: fp32 input + rsqrt
    let oneDropout = tokens * hidden * 1 + tokens * hidden * 2  // one bool mask + one dropped-out input for q and v
    let products = 2 * tokens * 32 * 2  // x*A of q's and v's adapters
    let attention = tokens * hidden * 2 * 4 + tokens * 32 * 4  // q, k, v, output; log-sum-exp
    let indexCopySource = tokens * (hidden + hidden) * 2  // zero_pad: the LoRA output over q and v
    let fusedOutputByView = tokens * (hidden + hidden) * 2  // v's view keeps the fused output's q and k
    let mlp = 3 * tokens * 11008 * 2  // gate, SiLU and up outputs
    let keptByMatmul = 3 * tokens * hidden * 2 + tokens * 11008 * 2  // qkv, o_proj, fc_1/fc_2 and proj inputs
    let expected =
      2 * norm + oneDropout + products + attention + indexCopySource + fusedOutputByView + mlp + keptByMatmul
    #expect(step.stack.dense.savedBytes == ByteCount(expected))
    #expect(step.stack.dense.keptByMatmul == ByteCount(keptByMatmul))
    #expect(step.keyValueCache == .zero)
  }

  /// LoRA on q, k and v: `zero_pad` returns the LoRA output as it is (no `index_copy`), and the
  /// three adapters still share one dropout.
  @Test func allThreeAdaptedSaveNoIndexCopySource() throws {
    var setup = Self.configHubSetup()
    setup.lora.targets = .modules(["q_proj", "k_proj", "v_proj"])
    let step = try Self.walk("llama-2-7b", setup).step
    let tokens: Int64 = 1024
    let hidden: Int64 = 4096
    let norm = tokens * hidden * 4 + tokens * 4
    let oneDropout = tokens * hidden * 1 + tokens * hidden * 2
    let products = 3 * tokens * 32 * 2
    let attention = tokens * hidden * 2 * 4 + tokens * 32 * 4
    let fusedOutputByView = tokens * (hidden + hidden) * 2
    let mlp = 3 * tokens * 11008 * 2
    let keptByMatmul = 3 * tokens * hidden * 2 + tokens * 11008 * 2
    let expected = 2 * norm + oneDropout + products + attention + fusedOutputByView + mlp + keptByMatmul
    #expect(step.stack.dense.savedBytes == ByteCount(expected))
  }

  /// The previous step through this forward: every layer's matmul-kept inputs (not the first
  /// layer's attention input: the embeddings need no gradient), lm_head's input (the final norm's
  /// output) and the logits the loop keeps.
  @Test func thePreviousStepIsItsKeptInputsAndLogits() throws {
    let step = try Self.walk("llama-2-7b", Self.configHubSetup()).step
    let tokens: Int64 = 1024
    let perLayer = 3 * tokens * 4096 * 2 + tokens * 11008 * 2
    let firstAttentionInput = tokens * 4096 * 2
    let headInput = tokens * 4096 * 2
    let logits = tokens * 32000 * 2
    #expect(step.previousStep == ByteCount(32 * perLayer - firstAttentionInput + headInput + logits))
  }

  /// The kept inputs outlive backward (node attributes, not saved variables): through the
  /// optimizer step every layer's (the first layer's attention input excepted) and lm_head's.
  @Test func theKeptInputsOutliveBackward() throws {
    let step = try Self.walk("llama-2-7b", Self.configHubSetup()).step
    let tokens: Int64 = 1024
    let retained = 32 * (3 * tokens * 4096 * 2 + tokens * 11008 * 2) - tokens * 4096 * 2 + tokens * 4096 * 2
    let optimizer = try #require(step.profile.phases.first { $0.name == .optimizer }).bytes
    #expect(optimizer == step.loss.heldOutput + step.gradients + step.optimizerTemporaries + ByteCount(retained))
  }

  /// lm_head's dequantization: fp16 (Fabric quantized from fp16), then its bf16 copy.
  @Test func theHeadIsDequantizedThroughFP16() throws {
    let step = try Self.walk("llama-2-7b", Self.configHubSetup()).step
    #expect(step.outputHeadDequant == ByteCount(32000 * 4096 * (2 + 2)))
    #expect(step.profile.peak.bytes == step.outputHeadMoment)
  }

  /// LitGPT's GPT has its own lm_head: a tied checkpoint (Llama 3.2) gets a 4-bit head beside its
  /// bf16 embedding.
  @Test func aTiedCheckpointGetsItsOwnHead() throws {
    let tied = try PresetCatalog.bundled.model(named: "llama-3.2-1b")
    #expect(tied.tiesWordEmbeddings)
    let walk = try MemoryEstimator.Walk(model: tied, setup: Self.configHubSetup(), gpu: nil)
    #expect(!walk.context.model.tiesWordEmbeddings)
    #expect(walk.step.outputHeadDequant == ByteCount(128_256 * 2048 * 4))
    var peft = Self.configHubSetup()
    peft.recipe = .hfPeft
    #expect(try MemoryEstimator.Walk(model: tied, setup: peft, gpu: nil).context.model.tiesWordEmbeddings)
  }

  /// The schedule reaches every phase's figure of the step for the recipe (as AllocationScheduleTests
  /// checks for the other recipes), the previous step included.
  @Test func theScheduleReachesTheStepsFigures() throws {
    for model in ["llama-2-7b", "llama-3.2-1b", "mistral-7b-v0.1"] {
      let preset = try PresetCatalog.bundled.model(named: model)
      let setup = Self.configHubSetup()
      let walk = try MemoryEstimator.Walk(model: preset, setup: setup, gpu: nil)
      let estimate = try MemoryEstimator.estimate(model: preset, setup: setup, gpu: nil)
      let schedule = walk.schedule(loader: setup.recipe.loader)
      #expect(AllocationScheduleTests.freesOnlyLiveTensors(schedule), "\(model)")
      let base = estimate.residentBytes + walk.transient.workspaces
      let measured = schedule.peakAllocatedByPhase.filter { $0.phase != .loading && $0.phase != .warmUp }
      #expect(measured.map(\.phase) == [.forward, .backward, .optimizer], "\(model)")
      for (phase, expected) in zip(measured, estimate.step.phases) {
        #expect(phase.bytes == base + expected.bytes, "\(model) \(phase.phase)")
      }
    }
  }

  /// The config hub's rows (034-040, torch.cuda.max_memory_allocated on an A10G): each estimate
  /// within 5% of the row's published figure, read here from measurements.json.
  @Test func configHubRowsAreWithinFivePercent() throws {
    let rows = try #require(
      try JSONSerialization.jsonObject(with: try TestData.calibration("published/measurements.json"))
        as? [[String: Any]])
    let report = try #require(PublishedValidationTests.report)
    let ids = ["034", "035", "036", "037", "038", "039", "040"]
    for id in ids {
      let row = try #require(rows.first { $0["id"] as? String == id })
      #expect(row["unit"] as? String == "GB (1e9 bytes)")
      let measured = try #require(row["value"] as? Double) * 1e9
      let comparison = try #require(report.published.first { $0.id == id }, "\(id) is a mapped row")
      let error = (Double(comparison.estimated) - measured) / measured
      #expect(abs(error) <= 0.05, "\(id): estimated \(comparison.estimated), measured \(measured)")
    }
  }
}

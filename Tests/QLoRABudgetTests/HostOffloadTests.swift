import QLoRABudget
import QLoRABudgetInputs
import Testing

/// Unsloth's checkpointing keeps every layer input but the last in pinned host memory.
@Suite struct HostOffloadTests {
  @Test func unslothOffloadsAllButTheLastLayerInputToTheHost() throws {
    let model = try PresetCatalog.bundled.model(named: "qwen3-14b")
    var setup = TrainingSetup()
    setup.recipe = .unsloth
    setup.sequenceLength = 2048
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    // 40 layers, hidden 5120, 2048 tokens, bf16: each input 5120 * 2048 * 2 = 20,971,520 B (> 2 MiB).
    let perInput: Int64 = 5120 * 2048 * 2
    #expect(estimate.bytes(of: .activations, on: .host) == ByteCount(39 * perInput))
    let host = HostMemory(estimate)
    #expect(host.offloadedActivations == ByteCount(39 * perInput))
    #expect(host.whileTraining == host.baseline + host.pagedOptimizerState + ByteCount(39 * perInput))
  }

  @Test func smallInputsAndOtherRecipesStayOnTheGPU() throws {
    let model = try PresetCatalog.bundled.model(named: "qwen3-14b")
    var setup = TrainingSetup()
    setup.recipe = .unsloth
    setup.sequenceLength = 128  // 5120 * 128 * 2 = 1.25 MiB: under Unsloth's 2 MiB minimum
    #expect(
      try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil).bytes(of: .activations, on: .host) == .zero)
    setup = TrainingSetup()  // hf-peft keeps every input on the GPU
    #expect(
      try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil).bytes(of: .activations, on: .host) == .zero)
  }
}

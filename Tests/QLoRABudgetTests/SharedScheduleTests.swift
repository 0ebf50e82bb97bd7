import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// `MemoryEstimator.estimates(model:setup:gpus:)` builds one schedule for the GPUs whose runs
/// share it (a `table` row): every estimate must be the one made on its own, on every preset GPU.
@Suite struct SharedScheduleTests {
  @Test(arguments: ["default", "unsloth", "eager"])
  func everyGPUGetsTheEstimateMadeOnItsOwn(_ variant: String) throws {
    let catalog = PresetCatalog.bundled
    let model = try catalog.model(named: "llama-3.1-8b")
    var setup = TrainingSetup()
    switch variant {
    case "unsloth":
      // Its loss chunks depend on each GPU's free memory.
      setup.recipe = .unsloth
      setup.sequenceLength = 4_096
    case "eager":
      setup.attention = .eager
      setup.batchSize = 2
    default: break
    }
    let gpus = try catalog.gpuNames.map { try catalog.gpu(named: $0) }
    let shared = MemoryEstimator.estimates(model: model, setup: setup, gpus: gpus)
    #expect(shared.count == gpus.count)
    for (gpu, result) in zip(gpus, shared) {
      let alone = Result { () throws(SetupError) in try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu) }
      switch (result, alone) {
      case (.success(let a), .success(let b)):
        #expect(a == b, "\(gpu.name)")
        #expect(a.peak == b.peak && a.verdict == b.verdict, "\(gpu.name)")
      case (.failure(let a), .failure(let b)): #expect(a == b, "\(gpu.name)")
      default: Issue.record("\(gpu.name): one refused, the other not")
      }
    }
  }
}

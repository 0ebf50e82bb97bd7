import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The allocated walk computes bytes without joining tensor paths or building text: its answers
/// equal those of the explained path. The oracle is Swift's own string comparison on the joined
/// ``TrainableTensorGroup/path`` and the full estimate (breakdown and allocator simulation).
@Suite struct ByteOnlyWalkTests {
  /// The setups whose groups reach every path test: LoRA, saved copies (GPT-2's embeddings
  /// too), full fine-tuning (norms, embeddings and lm_head as groups).
  static func setups(_ model: ModelArchitecture) -> [TrainingSetup] {
    var lora = TrainingSetup()
    lora.lora.rank = 16
    var saved = lora
    saved.lora.modulesToSave =
      model.layout.attention == .gpt2 ? ["wte", "wpe", "lm_head", "ln_f"] : ["embed_tokens", "lm_head", "norm"]
    var full = TrainingSetup()
    full.isFullFineTune = true
    return [lora, saved, full]
  }

  /// Prefixes and suffixes that end inside the module part, at its end, and inside the tensor
  /// part, beside the fixed names the estimator asks about.
  static func probes(_ path: String) -> [String] {
    let fixed = [
      "lm_head", "final_norm", "embed_tokens", "wte", "embed_positions", "wpe", "", ".modules_to_save.default",
      "embed_tokens.modules_to_save.default", "lm_head.modules_to_save.default", "lm_head.x",
    ]
    let cuts = [1, path.count / 2, max(0, path.count - 7), path.count]
    return fixed + cuts.map { String(path.prefix($0)) } + cuts.map { String(path.suffix($0)) } + [path + "x"]
  }

  @Test func pathTestsOnThePartsAnswerAsOnTheJoinedPath() throws {
    var groups = 0
    for name in PresetCatalog.bundled.modelNames {
      let model = try PresetCatalog.bundled.model(named: name)
      for setup in Self.setups(model) {
        guard let walk = try? MemoryEstimator.Walk(model: model, setup: setup, gpu: nil) else { continue }
        for group in walk.trainable {
          groups += 1
          let path = group.path
          for probe in Self.probes(path) {
            #expect(group.pathIs(probe) == (path == probe), "\(path) is \(probe)")
            #expect(group.pathHasPrefix(probe) == path.hasPrefix(probe), "\(path) prefix \(probe)")
            #expect(group.pathHasSuffix(probe) == path.hasSuffix(probe), "\(path) suffix \(probe)")
          }
        }
      }
    }
    #expect(groups > 1_000)
  }

  /// The walk without the allocator simulation (what the planners' floor reads) gives the full
  /// estimate's peak allocated, byte for byte, over every preset.
  @Test func theAllocatedWalkEqualsTheFullEstimateOverThePresets() throws {
    var compared = 0
    let gpu = GPU.custom(capacity: .gibibytes(80), label: "gpu")
    for name in PresetCatalog.bundled.modelNames {
      let model = try PresetCatalog.bundled.model(named: name)
      for setup in Self.setups(model).prefix(2) {
        guard let estimate = try? MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu) else { continue }
        #expect(
          try MemoryEstimator.peakAllocated(model: model, setup: setup, gpu: gpu) == estimate.peak.allocated, "\(name)")
        compared += 1
      }
    }
    #expect(compared > 120)
  }
}

import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs
@testable import QLoRABudgetValidation

/// Gradients appear as backward reaches their parameters (GradientTiming), with arithmetic from
/// the models' shapes, and the held-out CPU step that showed the former charge was too high.
@Suite struct GradientTimingTests {
  static func walk(_ model: String, _ change: (inout TrainingSetup) -> Void) throws -> MemoryEstimator.Walk {
    var setup = TrainingSetup()
    change(&setup)
    return try MemoryEstimator.Walk(
      model: try PresetCatalog.bundled.model(named: model), setup: setup,
      gpu: .custom(capacity: .gibibytes(80), label: "80GiB"))
  }

  /// Mistral-7B (hidden 4096, kv 1024, MLP 14336, 32 layers), LoRA r16 on every linear layer,
  /// fp32 adapters: per layer 16 x (q 4096+4096, k 4096+1024, v 4096+1024, o 4096+4096,
  /// gate/up/down 3 x (4096+14336)) = 16 x 81,920 = 1,310,720 parameters = 5,242,880 B, in
  /// 14 tensors (A and B of 7 modules); none outside the layers.
  @Test func loraGradientsAppearLayerByLayer() throws {
    let walk = try Self.walk("mistral-7b-v0.3") { $0.lora = LoRAConfiguration(rank: 16, targets: .allLinear) }
    let timing = walk.step.gradientTiming
    #expect(timing.beforeLayers.isEmpty && timing.afterLayers.isEmpty)
    #expect(timing.perLayer.count == 32)
    for layer in timing.perLayer {
      #expect(layer.count == 14)
      #expect(ByteCount.sum(layer) == ByteCount(5_242_880))
    }
    #expect(timing.alive(atLayer: 31) == ByteCount(5_242_880))
    #expect(timing.alive(atLayer: 0) == ByteCount(32 * 5_242_880))
  }

  /// Full fine-tuning of Llama-3.2-1B (tied embeddings, vocabulary 128,256 x hidden 2048, bf16):
  /// the embedding's gradient is lm_head's, made by the loss's backward before any layer; with
  /// the final norm (2048) that is 262,670,336 parameters = 525,340,672 B before the layers.
  @Test func aTiedEmbeddingsGradientComesBeforeTheLayers() throws {
    let walk = try Self.walk("llama-3.2-1b") {
      $0.isFullFineTune = true
      $0.quantization = .none
    }
    let timing = walk.step.gradientTiming
    #expect(ByteCount.sum(timing.beforeLayers) == ByteCount(2 * (128_256 * 2048 + 2048)))
    #expect(timing.afterLayers.isEmpty)
    #expect(timing.perLayer.count == 16)
    // The lookup's gradient and the out-of-place sum: 2 x 128,256 x 2,048 x 2 B.
    #expect(timing.tiedEmbeddingAccumulation == ByteCount(1_050_673_152))
  }

  /// Held out (Tests/Calibration/measured/README.md): the full fine-tune's backward peak is the
  /// tied embedding's accumulation at the end of backward: measured 3,522,301,960 B above the
  /// step's start at 16 layers (extrapolated; the 4-layer build's 2,062,585,864 B is on the 1 -> 2 layer line).
  @Test func theFullFineTunesBackwardPeakIsTheEmbeddingsAccumulation() throws {
    let data = try TestData.calibration("cpu-steps/out-of-sample.json")
    let report = try CalibrationValidation.run(
      cpuSteps: nil, cpuOutOfSample: data, gpuRuns: [], gpuModels: nil, published: nil)
    let row = try #require(
      report.rows.first { $0.caseName == "llama-3.2-1b-s512-b1-full-gc-sdpa" && $0.figure == "peak_backward" })
    #expect(row.measured == 3_522_301_960)
    #expect(abs(row.errorPercent) < 0.5)
  }

  /// Mistral-7B untied: lm_head's gradient before the layers, the embedding's after them.
  @Test func anUntiedEmbeddingsGradientComesAfterTheLayers() throws {
    let walk = try Self.walk("mistral-7b-v0.3") {
      $0.isFullFineTune = true
      $0.quantization = .none
    }
    let timing = walk.step.gradientTiming
    let head: Int64 = 32_768 * 4096
    #expect(ByteCount.sum(timing.afterLayers) == ByteCount(2 * head))
    #expect(ByteCount.sum(timing.beforeLayers) == ByteCount(2 * (head + 4096)))
  }
}

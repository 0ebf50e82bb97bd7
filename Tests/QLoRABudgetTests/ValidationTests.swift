import Foundation
import QLoRABudget
import Testing

/// The estimator against real measurements (../shared/calibration, or the copies in Fixtures/).
/// The bar comes from issue 4: peak allocated within 5% median and 10% max over every GPU case,
/// CPU step figures within 5%, never `fits` for a run whose measured peak exceeds the GPU.
@Suite struct ValidationTests {
  static let report: ValidationReport? = {
    let shared = TestData.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/calibration")
    let fixtures = TestData.packageRoot.appendingPathComponent("Tests/QLoRABudgetTests/Fixtures")
    let directory = FileManager.default.fileExists(atPath: shared.appendingPathComponent("cpu-steps/cpu-steps.json").path)
      ? shared : fixtures
    return try? CalibrationValidation.run(directory: directory)
  }()

  @Test func everyCaseIsEstimated() throws {
    let report = try #require(Self.report)
    #expect(report.skipped.isEmpty, "\(report.skipped)")
    // 10 CPU cases x 2 figures; 22 GPU runs (12 + 10 in the two fitcheck files).
    #expect(report.absoluteErrors(dataSet: CalibrationValidation.cpuDataSet, figure: "step_peak_above_start").count == 10)
    #expect(report.absoluteErrors(dataSet: CalibrationValidation.gpuDataSet, figure: "peak_allocated").count == 22)
  }

  @Test func gpuPeakAllocatedMeetsTheBar() throws {
    let report = try #require(Self.report)
    let errors = report.absoluteErrors(dataSet: CalibrationValidation.gpuDataSet, figure: "peak_allocated")
    #expect(ValidationReport.median(errors) < 5)
    #expect((errors.max() ?? 100) < 10)
  }

  @Test(arguments: ["saved_for_backward", "step_peak_above_start"])
  func cpuStepFiguresMeetTheBar(_ figure: String) throws {
    let report = try #require(Self.report)
    for row in report.rows where row.dataSet == CalibrationValidation.cpuDataSet && row.figure == figure {
      #expect(abs(row.errorPercent) < 5, "\(row.caseName): measured \(row.measured), estimated \(row.estimated)")
    }
  }

  @Test func noWrongFits() throws {
    let report = try #require(Self.report)
    #expect(report.verdictCases == 22)
    #expect(report.wrongFits.isEmpty)
  }

  /// The eager layer of one CPU case, by hand from the recipe (b=1, s=512, h=896, 14 heads of 64,
  /// intermediate 4864, LoRA r=8 on q,v, no dropout, bf16 autocast, fp32 residual): per layer
  /// norms 2*(512*896*4 + 512*4), q/v LoRA inputs cast to bf16 2*(512*896*2) + x*A 2*(512*8*2),
  /// q/k/v bf16 3*512*896*2, probabilities fp32 14*512*512*4 + their bf16 cast 14*512*512*2,
  /// MLP 3*512*4864*4. Measured: two_layers - one_layer = 60,227,584 bytes.
  @Test func eagerLayerMatchesTheHandCount() throws {
    let byHand: Int64 = 2 * (512 * 896 * 4 + 512 * 4) + 2 * (512 * 896 * 2) + 2 * (512 * 8 * 2)
      + 3 * 512 * 896 * 2 + 14 * 512 * 512 * 4 + 14 * 512 * 512 * 2 + 3 * 512 * 4864 * 4
    let measured: Int64 = 703_209_484 - 642_981_900
    #expect(abs(Double(byHand - measured)) / Double(measured) < 0.001)
    var config: [String: Any] = [
      "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_attention_heads": 14,
      "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": true,
    ]
    var setup = TrainingSetup()
    setup.lora = LoRAConfiguration(rank: 8, targets: .modules(["q_proj", "v_proj"]), dropout: 0)
    setup.sequenceLength = 512
    setup.gradientCheckpointing = false
    setup.attention = .eager
    var saved: [Int64] = []
    for layers in [1, 2] {
      config["num_hidden_layers"] = layers
      let model = try TestData.model(config)
      saved.append(try MemoryEstimator.stepProfile(model: model, setup: setup, ).savedForBackward.bytes)
    }
    #expect(saved[1] - saved[0] == byHand)
  }
}

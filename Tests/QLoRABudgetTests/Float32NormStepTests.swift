import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetValidation

/// The QLoRA paper's casts (norms fp32 over bf16 embeddings, lm_head and adapters) against steps
/// measured on CPU (Fixtures/float32-norm-steps, README beside them gives the command): an
/// RMSNorm with an fp32 weight returns fp32 and a 4-bit projection its input's dtype, so the
/// residual stream is fp32 after the first layer's MLP while the first layer's input, the
/// embeddings' output, stays bf16.
@Suite struct Float32NormStepTests {
  static func entries() throws -> [String: [String: Any]] {
    let url = TestData.packageRoot.appendingPathComponent(
      "Tests/QLoRABudgetTests/Fixtures/float32-norm-steps/cpu-steps.json")
    return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: [String: Any]])
  }

  /// The case's figures estimated with the model built at `layers` decoder layers.
  static func estimated(_ entry: [String: Any], layers: Int) throws -> [String: ByteCount] {
    var entry = entry
    var config = try #require(entry["model_config"] as? [String: Any])
    config["num_hidden_layers"] = layers
    entry["model_config"] = config
    let (model, setup) = try CalibrationValidation.cpuStepSetup(entry, name: "case")
    return try CalibrationValidation.cpuEstimates(model: model, setup: setup)
  }

  static func measured(_ entry: [String: Any], _ build: String, _ figure: String) throws -> Int64 {
    try #require(((entry[build] as? [String: Any])?[figure] as? NSNumber)?.int64Value)
  }

  static let checkpointed = ["smollm2-s512-b1-r16-gc-qlora-paper"]

  /// With checkpointing, a second layer keeps one more input, fp32: `b x s x h x 4` bytes more
  /// saved for backward than the one-layer build, whose one kept input is the bf16 embeddings'
  /// output. Both the measurement and the estimate.
  @Test(arguments: checkpointed)
  func aSecondLayerKeepsAnFP32Input(_ name: String) throws {
    let entry = try #require(try Self.entries()[name])
    let config = try #require(entry["model_config"] as? [String: Any])
    let tokens = Int64(try #require(entry["seq"] as? Int)) * Int64(try #require(entry["batch"] as? Int))
    let hidden = Int64(try #require(config["hidden_size"] as? Int))
    let fp32Input = tokens * hidden * 4
    let measuredStep =
      try Self.measured(entry, "two_layers", "saved_for_backward")
      - Self.measured(entry, "one_layer", "saved_for_backward")
    #expect(measuredStep == fp32Input)
    let one = try #require(try Self.estimated(entry, layers: 1)["saved_for_backward"])
    let two = try #require(try Self.estimated(entry, layers: 2)["saved_for_backward"])
    #expect((two - one).bytes == fp32Input)
  }

  /// Every case, at its full depth: what autograd saves and each phase's peak within 1% of the
  /// measured step (extrapolated from the one- and two-layer builds).
  @Test(arguments: ["smollm2-s512-b1-r16-gc-qlora-paper", "smollm2-s512-b1-r16-nogc-qlora-paper"])
  func theStepAgreesWithTheMeasuredOne(_ name: String) throws {
    let entry = try #require(try Self.entries()[name])
    let layers = try #require((entry["model_config"] as? [String: Any])?["num_hidden_layers"] as? Int)
    let estimated = try Self.estimated(entry, layers: layers)
    for figure in CalibrationValidation.cpuFigures {
      let measured = try Self.measured(entry, "full_model", figure)
      let bytes = try #require(estimated[figure]).bytes
      let error = Double(bytes - measured) / Double(measured) * 100
      #expect(abs(error) <= 1, "\(name) \(figure): \(bytes) estimated, \(measured) measured (\(error)%)")
    }
  }
}

import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs
@testable import QLoRABudgetValidation

/// DeepSeek-V3's latent attention (MLA) and its MoE block in the step, against steps measured on
/// CPU on DeepSeek-V3-shaped models with small widths (Fixtures/mla-steps; the README beside them
/// gives the commands). The bars are issue 21's for held-out steps: per figure, the median error
/// over the cases within 3% and every case within 6%.
@Suite struct LatentAttentionStepTests {
  static let fixture = TestData.packageRoot.appendingPathComponent(
    "Tests/QLoRABudgetTests/Fixtures/mla-steps/cpu-steps.json")

  static func entries() throws -> [String: [String: Any]] {
    try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: fixture)) as? [String: [String: Any]])
  }

  /// Percent error of the estimate per figure and case, as CalibrationValidation compares cpu-steps.
  static func errors() throws -> [String: [String: Double]] {
    try CalibrationValidation.cpuPercentErrors(try entries())
  }

  @Test func theStepsAreDeepSeekV3Shaped() throws {
    let entries = try Self.entries()
    #expect(entries.count >= 3)
    for (name, entry) in entries {
      let (model, _) = try CalibrationValidation.cpuStepSetup(entry, name: name)
      #expect(model.latentAttention != nil, "\(name)")
      #expect(model.layout.mixtureOfExperts?.sparseLayerCount == model.layerCount - 1, "\(name)")
    }
  }

  @Test func everyFigureMeetsTheHeldOutBar() throws {
    for (figure, cases) in try Self.errors() {
      let absolute = cases.values.map(abs)
      #expect(ValidationReport.median(absolute) <= 3, "\(figure): \(cases)")
      for (name, error) in cases { #expect(abs(error) <= 6, "\(name) \(figure): \(error)%") }
    }
  }
}

import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs
@testable import QLoRABudgetValidation

/// modules_to_save in the step, against steps measured on CPU (Fixtures/modules-to-save-steps,
/// README beside them gives the command).
@Suite struct SavedModuleStepTests {
  static func entries() throws -> [String: [String: Any]] {
    let url = TestData.packageRoot.appendingPathComponent(
      "Tests/QLoRABudgetTests/Fixtures/modules-to-save-steps/cpu-steps.json")
    return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: [String: Any]])
  }

  static func estimate(_ entry: [String: Any], _ name: String) throws -> (profile: StepProfile, trainable: Int64) {
    var (model, setup) = try CalibrationValidation.cpuStepSetup(entry, name: name)
    setup.lora.modulesToSave = entry["modules_to_save"] as? [String] ?? []
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    return (estimate.step, estimate.trainableParameters)
  }

  static func measured(_ entry: [String: Any], _ key: String) -> Int64 {
    ((entry["full_model"] as? [String: Any])?[key] as? NSNumber)?.int64Value ?? -1
  }

  static func error(_ estimated: ByteCount, _ measured: Int64) -> Double {
    Double(estimated.bytes - measured) / Double(measured) * 100
  }

  /// Every case: the trainable parameters exactly, the forward and optimizer phases within 1%,
  /// and backward never under the measurement.
  @Test(arguments: [
    "mistral-s512-b1-r16-gc-mts", "mistral-s512-b1-r16-gc-mts-head", "qwen05-s512-b1-r16-gc-mts",
  ])
  func phasesAgreeWithTheMeasuredStep(_ name: String) throws {
    let entry = try #require(try Self.entries()[name])
    let (profile, trainable) = try Self.estimate(entry, name)
    #expect(trainable == Self.measured(entry, "trainable_params"))
    let phases = Dictionary(uniqueKeysWithValues: profile.phases.map { ($0.name, $0.bytes) })
    let forward = Self.error(try #require(phases[.forward]), Self.measured(entry, "peak_forward"))
    let optimizer = Self.error(try #require(phases[.optimizer]), Self.measured(entry, "peak_optimizer"))
    let backward = Self.error(try #require(phases[.backward]), Self.measured(entry, "peak_backward"))
    #expect(abs(forward) <= 1, "\(name) forward \(forward)%")
    #expect(abs(optimizer) <= 1, "\(name) optimizer \(optimizer)%")
    #expect(backward >= -1, "\(name) backward \(backward)%")
  }

  /// Qwen2.5-0.5B (tied): the copies change neither forward nor backward (the embedding copy's
  /// gradient is made after the layers, when less is alive than at the loss): within 1% of the
  /// measured backward.
  @Test func qwenTiedBackwardIsExact() throws {
    let entry = try #require(try Self.entries()["qwen05-s512-b1-r16-gc-mts"])
    let (profile, _) = try Self.estimate(entry, "qwen05")
    let backward = try #require(profile.phases.first { $0.name == .backward }?.bytes)
    #expect(abs(Self.error(backward, Self.measured(entry, "peak_backward"))) <= 1)
  }
}

import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs
@testable import QLoRABudgetValidation

/// The schedule of every fitcheck-t4 run, checked for consistency (every free names a live
/// tensor, and the schedule's last allocation-phase peak is the estimate's peak allocated);
/// with `QLORA_BUDGET_DUMP_SCHEDULES=<directory>` in the environment, also written there one
/// event a line (`a <id> <bytes> <tensor>`, `f <id>`, `m <phase>`) as `<file>-<index>.txt`, to
/// compare event by event with a recorded allocation sequence (the allocator study's
/// pipeline.py, Tests/Calibration/README.md).
@Suite struct ScheduleDumpTests {
  static let files = ["final-t4-20260921.json", "t4-qlora-2026-09-01.json"]

  static func text(_ schedule: AllocationSchedule) -> String {
    var lines: [String] = []
    for event in schedule.events {
      switch event {
      case .allocate(let id, let bytes, let tensor): lines.append("a \(id) \(bytes) \(tensor)")
      case .free(let id): lines.append("f \(id)")
      case .phase(let phase): lines.append("m \(phase.rawValue)")
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  @Test func everyT4RunHasAConsistentSchedule() throws {
    let models = try TestData.json(try TestData.calibration("gpu-measured/fitcheck-t4/models.json"))
    let directory = ProcessInfo.processInfo.environment["QLORA_BUDGET_DUMP_SCHEDULES"].map { URL(fileURLWithPath: $0) }
    var runs = 0
    for file in Self.files {
      let root = try TestData.json(try TestData.calibration("gpu-measured/fitcheck-t4/" + file))
      let entries = try #require(root["runs"] as? [[String: Any]])
      for (index, entry) in entries.enumerated() {
        let id = try #require(entry["model_id"] as? String)
        var config = try #require(models[id] as? [String: Any])
        config.removeValue(forKey: "parameters")
        let model = try TestData.model(config, name: id)
        let setup = CalibrationValidation.gpuRunSetup(try #require(entry["run"] as? [String: Any]))
        let gpu = CalibrationValidation.fitcheckT4
        let schedule = try MemoryEstimator.schedule(model: model, setup: setup, gpu: gpu, loader: setup.recipe.loader)
        let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
        #expect(AllocationScheduleTests.freesOnlyLiveTensors(schedule), "\(id)")
        let stepPeak = schedule.peakAllocatedByPhase.filter { ![.loading, .warmUp].contains($0.phase) }.map(\.bytes)
          .max()
        #expect(stepPeak == estimate.peak.allocated, "\(id)")
        if let directory {
          let name = file.replacingOccurrences(of: ".json", with: "") + "-\(index).txt"
          try Self.text(schedule).write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        runs += 1
      }
    }
    #expect(runs == 22)
  }

  /// fms-acceleration's one-GPU rows as mapped (``PublishedMapping/moreRuns`` and the rows kept
  /// beside them), each row's schedule checked the same way and, with
  /// `QLORA_BUDGET_DUMP_SCHEDULES`, written as `<id>.txt` for the recorded sequences of
  /// Tests/Calibration/allocator/fms_baseline_trace.py.
  @Test func everyFMSAccelerationRowHasAConsistentSchedule() throws {
    let directory = ProcessInfo.processInfo.environment["QLORA_BUDGET_DUMP_SCHEDULES"].map { URL(fileURLWithPath: $0) }
    let mappings = PublishedMapping.moreRuns + PublishedMapping.otherLibraryVersions.map(\.mapping)
    for mapping in mappings where mapping.figure == .process {
      let model = try PresetCatalog.bundled.model(named: mapping.model)
      let gpu = try PresetCatalog.bundled.gpu(named: try #require(mapping.gpu))
      let schedule = try MemoryEstimator.schedule(
        model: model, setup: mapping.setup, gpu: gpu, loader: mapping.setup.recipe.loader)
      #expect(AllocationScheduleTests.freesOnlyLiveTensors(schedule), "\(mapping.id)")
      if let directory {
        try Self.text(schedule).write(
          to: directory.appendingPathComponent("\(mapping.id).txt"), atomically: true, encoding: .utf8)
      }
    }
  }
}

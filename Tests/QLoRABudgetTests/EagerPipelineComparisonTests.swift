import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetValidation

/// Issue 17's failing class out of sample: eager attention with large score tensors (batch 4-8 at
/// 1,024 tokens, 4,096 tokens) on fitcheck's Tesla T4 setup, which the 22 measured T4 runs barely
/// cover. The reference is the allocator study's pipeline.py: each run recorded on the meta device
/// with the real transformers / peft / bitsandbytes code and replayed through its own simulation of
/// the caching allocator (Tests/Calibration/allocator/eager-t4-pipeline.json, written by
/// `eager_t4_pipeline.py`; no figure there comes from this repository). The estimator maps each run
/// as `validate` maps fitcheck's runs (``CalibrationValidation/gpuRunSetup(_:)``).
@Suite struct EagerPipelineComparisonTests {
  struct Row {
    let name: String
    let allocated: (estimated: Double, recorded: Double)
    let threaded: (estimated: Double, recorded: Double)
    let sequential: (estimated: Double, recorded: Double)
  }

  static func rows() throws -> [Row] {
    let models = try TestData.json(try TestData.calibration("gpu-measured/fitcheck-t4/models.json"))
    let root = try TestData.json(try TestData.calibration("allocator/eager-t4-pipeline.json"))
    let runs = try #require(root["runs"] as? [[String: Any]])
    return try runs.map { entry in
      let id = try #require(entry["model_id"] as? String)
      var config = try #require(models[id] as? [String: Any])
      config.removeValue(forKey: "parameters")
      let model = try TestData.model(config, name: id)
      let setup = CalibrationValidation.gpuRunSetup(try #require(entry["run"] as? [String: Any]))
      let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: CalibrationValidation.fitcheckT4)
      let reserve = try #require(estimate.reserve)
      let recorded = try #require(entry["pipeline"] as? [String: Double])
      func mib(_ bytes: ByteCount) -> Double { Double(bytes.bytes) / 1_048_576 }
      return Row(
        name: try #require(entry["name"] as? String),
        allocated: (mib(estimate.peak.allocated), try #require(recorded["peak_allocated_mib"])),
        threaded: (mib(estimate.peak.reserved), try #require(recorded["peak_reserved_threaded_mib"])),
        sequential: (mib(reserve.otherLoaderPeakReserved), try #require(recorded["peak_reserved_sequential_mib"])))
    }
  }

  static func error(_ pair: (estimated: Double, recorded: Double)) -> Double {
    abs(pair.estimated / pair.recorded - 1)
  }

  /// The fixture holds the 12 setups of eager_t4_pipeline.py.
  @Test func fixtureHasTheTwelveSetups() throws {
    #expect(try Self.rows().count == 12)
  }

  /// Peak allocated within 3% of the recorded sequences' on every setup (the largest: TinyLlama at
  /// 8 x 1,024 tokens +2.5%, SmolLM2-360M without checkpointing +1.8%).
  @Test func allocatedWithinThreePercent() throws {
    for row in try Self.rows() {
      #expect(Self.error(row.allocated) <= 0.03, "\(row.name) allocated \(row.allocated)")
    }
  }

  /// Peak reserved with the recipe's loader (transformers 5's 4 threads): the median error against
  /// the study's threaded loader within the 2% (0.56% here), and every setup within 3% of
  /// the study's own loader bracket (its threaded and sequential loaders, the thread timing neither
  /// knows). Qwen2.5-1.5B at 4,096 tokens is the case the bracket is for: the study reserves 14,828
  /// MiB with its threaded loader and 14,066 with the sequential one (a third 768 MiB score segment
  /// or not, as one 24 MiB kept layer input lands), the estimate 14,050.
  @Test func reservedWithinTheLoaderBracket() throws {
    let rows = try Self.rows()
    let errors = rows.map { Self.error($0.threaded) }.sorted()
    let median = (errors[errors.count / 2 - 1] + errors[errors.count / 2]) / 2
    #expect(median <= 0.02, "median \(median)")
    for row in rows {
      let low = min(row.threaded.recorded, row.sequential.recorded)
      let high = max(row.threaded.recorded, row.sequential.recorded)
      let estimate = row.threaded.estimated
      #expect(
        estimate >= low * 0.97 && estimate <= high * 1.03, "\(row.name) reserved \(row.threaded) bracket \(low)-\(high)"
      )
    }
  }

  /// The other end of the bracket (one staging copy at a time) against the study's sequential
  /// loader: within 3.5% (Qwen2.5-1.5B at 4 x 1,024 tokens is -3.2%).
  @Test func sequentialLoaderWithinThreeAndAHalfPercent() throws {
    for row in try Self.rows() {
      #expect(Self.error(row.sequential) <= 0.035, "\(row.name) sequential \(row.sequential)")
    }
  }
}

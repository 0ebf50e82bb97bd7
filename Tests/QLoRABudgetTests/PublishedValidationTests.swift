import Foundation
import QLoRABudget
import Testing

/// The estimator against the published figures that map onto a setup we model
/// (../shared/calibration/published/measurements.json, or the copy in Fixtures/published/).
/// The rows and their setups are in Sources/QLoRABudget/Validation/PublishedMapping.swift.
@Suite struct PublishedValidationTests {
  static let report: ValidationReport? = {
    let shared = TestData.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/calibration")
    let fixtures = TestData.packageRoot.appendingPathComponent("Tests/QLoRABudgetTests/Fixtures")
    let file = "published/measurements.json"
    let directory = FileManager.default.fileExists(atPath: shared.appendingPathComponent(file).path) ? shared : fixtures
    guard let data = try? Data(contentsOf: directory.appendingPathComponent(file)) else { return nil }
    return try? CalibrationValidation.run(cpuSteps: nil, gpuRuns: [], gpuModels: nil, published: data)
  }()

  /// Every mapped row is estimated, and every one of the 146 rows is either mapped or listed.
  @Test func everyRowIsMappedOrListed() throws {
    let report = try #require(Self.report)
    #expect(report.skipped.isEmpty, "\(report.skipped)")
    #expect(report.published.count == PublishedMapping.all.count)
    #expect(report.published.count + report.context.count == 146)
    #expect(report.context.allSatisfy { !($0["reason"] ?? "").isEmpty })
  }

  /// High trust ("high" or "medium-high"): the six fsdp_qlora rows without CPU offload
  /// (088-092, 094); no bitsandbytes row in the file rated "high" runs on a stack we model.
  @Test func highTrustRowsAreTheFSDPQLoRABenchmark() throws {
    let report = try #require(Self.report)
    let high = report.published.filter { $0.trustGroup == "high" }.map(\.id).sorted()
    #expect(high == ["088", "089", "090", "091", "092", "094"])
  }

  /// Never `fits` where the row ran out of memory or measured more than the GPU holds.
  @Test func noWrongFitsOnHighTrustRows() throws {
    let report = try #require(Self.report)
    for row in report.published where row.trustGroup == "high" {
      #expect(!row.isWrongFit, "\(row.id): verdict \(String(describing: row.verdict)), measured \(row.readings)")
    }
  }

  @Test func noWrongFitsOnAnyMappedRow() throws {
    let report = try #require(Self.report)
    #expect(report.published.filter(\.isWrongFit).map(\.id).isEmpty)
  }

  /// The readings are the published numbers in bytes: 4.98 GiB (row 088) and 35.6 GB or GiB (row 100).
  @Test func readingsFollowTheStatedUnit() throws {
    let report = try #require(Self.report)
    let r088 = try #require(report.published.first { $0.id == "088" })
    #expect(r088.readings.map(\.bytes) == [5_347_234_284])  // 4.98 x 2^30, rounded
    let r100 = try #require(report.published.first { $0.id == "100" })
    #expect(r100.readings.map(\.unit) == ["GB", "GiB"])
    #expect(r100.readings.map(\.bytes) == [35_600_000_000, 38_225_208_934])  // 35.6e9; 35.6 x 2^30
  }

  /// A loose bar on the high-trust rows (peak reserved per GPU, fsdp_qlora): median absolute
  /// error under 10%. Five of the six rows are within 5% today; the sixth (088, 512 tokens) is
  /// the one the source says reserves about what 2,048 tokens do, i.e. reserved memory set by
  /// something other than the step (see docs/validation.md). No bar on the max: six rows of one
  /// benchmark, with reserved memory that depends on the allocator's history, do not support one.
  @Test func highTrustMedianErrorIsUnderTenPercent() throws {
    let report = try #require(Self.report)
    let errors = report.published.filter { $0.trustGroup == "high" }.compactMap { $0.errorPercent(reading: "GiB") }.map(abs)
    #expect(errors.count == 6)
    #expect(ValidationReport.median(errors) < 10)
  }
}

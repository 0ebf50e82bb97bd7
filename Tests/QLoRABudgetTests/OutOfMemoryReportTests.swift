import Foundation
import QLoRABudget
import QLoRABudgetValidation
import Testing

/// The published runs of Tests/Calibration/published/more-runs.json and the out-of-memory reports
/// of oom-reports.json (IBM's fms-acceleration reference benchmark), as `validate` reads them.
@Suite struct OutOfMemoryReportTests {
  static func report(morePublished: Data? = nil, outOfMemory: Data? = nil) throws -> ValidationReport {
    try CalibrationValidation.run(
      cpuSteps: nil, gpuRuns: [], gpuModels: nil, published: TestData.calibration("published/measurements.json"),
      morePublished: morePublished ?? TestData.calibration("published/more-runs.json"),
      outOfMemory: outOfMemory ?? TestData.calibration("published/oom-reports.json"))
  }

  static func rows(_ name: String) throws -> [[String: Any]] {
    try #require(try JSONSerialization.jsonObject(with: TestData.calibration(name)) as? [[String: Any]])
  }

  /// Every row of both files is compared, or listed with its reason; none is skipped (a skipped
  /// row is a mapping whose length or batch differs from the row's).
  @Test func everyRowIsComparedOrListed() throws {
    let report = try Self.report()
    #expect(report.skipped.isEmpty, "\(report.skipped)")
    let more = try Self.rows("published/more-runs.json").compactMap { $0["id"] as? String }
    #expect(more.count == 48)
    let compared = Set(report.expressed.map(\.comparison.id) + report.published.map(\.id)).intersection(more)
    #expect(
      compared
        == Set(PublishedMapping.otherLibraryVersions.map(\.mapping.id) + PublishedMapping.moreRuns.map(\.id)))
    let listed = report.context.compactMap { $0["id"] }.filter { $0.hasPrefix("p2-") }
    #expect(compared.count + listed.count == more.count)
    let reports = try Self.rows("published/oom-reports.json").compactMap { $0["id"] as? String }
    #expect(report.outOfMemory.map(\.id) == PublishedMapping.outOfMemoryReports.map(\.id))
    #expect(report.outOfMemory.count + report.outOfMemoryContext.count == reports.count)
    for row in report.context + report.outOfMemoryContext where (row["id"] ?? "").contains("-") {
      #expect(!(row["reason"] ?? "").isEmpty && row["reason"] != "not mapped", "\(row["id"] ?? "")")
    }
  }

  /// An out-of-memory report is one: `reportsOOM` reads its `outcome`, so `isWrongFit` counts a
  /// `fits` on it as wrong.
  @Test func everyMappedReportRanOutOfMemory() throws {
    let report = try Self.report()
    #expect(!report.outOfMemory.isEmpty)
    #expect(report.outOfMemory.filter { !$0.reportsOOM }.map(\.id).isEmpty)
  }

  /// Never `fits` on a run that ran out of memory. o-002 and o-007 (the same setup on transformers
  /// 4.48 and 4.45) were judged `fits` while the estimator took the residual stream's width from
  /// the embeddings: the baseline config's fp32 norms make it fp32 (an RMSNorm with an fp32 weight
  /// returns fp32, a 4-bit projection its input's dtype), 2 B x 8,192 x 16,384 tokens x 79 layer
  /// inputs more than a bf16 stream (docs/validation.md, fms-acceleration).
  @Test func noOutOfMemoryReportIsJudgedFits() throws {
    let report = try Self.report()
    for row in report.outOfMemory {
      #expect(
        !row.isWrongFit,
        "\(row.id): \(String(describing: row.verdict)) at \(row.estimated) B on \(String(describing: row.capacity))")
    }
  }

  /// The mapping restates the row's length and batch, as for measurements.json: a row whose
  /// published setup differs from its mapping is refused, not compared.
  @Test func aRowWhoseLengthOrBatchDiffersFromItsMappingIsRefused() throws {
    func edited(_ name: String, id: String, _ key: String, _ value: Int) throws -> Data {
      var rows = try Self.rows(name)
      let index = try #require(rows.firstIndex { $0["id"] as? String == id })
      rows[index][key] = value
      return try JSONSerialization.data(withJSONObject: rows)
    }
    let longer = try Self.report(morePublished: try edited("published/more-runs.json", id: "p2-001", "seq_len", 2048))
    #expect(longer.skipped.contains { $0.hasPrefix("published p2-001: seq_len 2048") }, "\(longer.skipped)")
    let larger = try Self.report(outOfMemory: try edited("published/oom-reports.json", id: "o-002", "batch_size", 2))
    #expect(larger.skipped.contains { $0.hasPrefix("out-of-memory report o-002: batch_size 2") }, "\(larger.skipped)")
    #expect(!larger.outOfMemory.contains { $0.id == "o-002" })
  }

  /// The readings are the published numbers in bytes: 19,912 MiB (p2-001, nvidia-smi) and
  /// 16,373,838,336 B (p2-002, torch).
  @Test func readingsAreThePublishedNumbers() throws {
    let report = try Self.report()
    let rows = report.expressed.map(\.comparison)
    #expect(try #require(rows.first { $0.id == "p2-001" }).readings.map(\.bytes) == [19_912 * 1_048_576])
    #expect(try #require(rows.first { $0.id == "p2-002" }).readings.map(\.bytes) == [16_373_838_336])
  }

  /// The rows' own evidence for the fp32 residual stream: the baseline config's peak allocated
  /// exceeds the accelerated one's by 2 B per element of 32 layer inputs (4,096 hidden x 4 x 4,096
  /// tokens) plus 65 norms of 4,096 kept fp32 instead of bf16, at batch 4 and at batch 8.
  @Test func theBaselineRowsExceedTheAcceleratedOnesByAnFP32ResidualStream() throws {
    let bytes = Dictionary(
      uniqueKeysWithValues: try Self.rows("published/more-runs.json").compactMap { row -> (String, Int64)? in
        guard let id = row["id"] as? String, (row["unit"] as? String) == "GB", let value = row["value"] as? Double
        else { return nil }
        return (id, Int64((value * 1e9).rounded()))
      })
    let norms: Int64 = 65 * 4_096 * 2
    for (baseline, accelerated, batch) in [("p2-008", "p2-002", Int64(4)), ("p2-010", "p2-004", 8)] {
      let layerInputs: Int64 = 2 * 4_096 * batch * 4_096 * 32
      #expect(try #require(bytes[baseline]) - (try #require(bytes[accelerated])) == layerInputs + norms)
    }
  }
}

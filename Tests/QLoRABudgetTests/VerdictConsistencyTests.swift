import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs
@testable import QLoRABudgetValidation

/// One verdict everywhere: on a grid of setups, what `fit` reads (the estimate's verdict), the
/// planning grid of `table`, the variants of `compare` and the boundaries `solve` finds agree.
@Suite struct VerdictConsistencyTests {
  static let presets = PresetCatalog.bundled
  static let models = ["qwen3-4b", "llama-3.1-8b", "qwen3-14b", "gemma-2-9b"]
  static let ranks: [Int64] = [8, 32, 128, 512]
  static let lengths: [Int64] = [512, 2048, 8192]
  static let gpus = ["rtx-3060-12gb", "l4", "rtx-4090", "a100-40gb", "h100-80gb"]

  @Test func theVerdictRule() {
    let margin = VerdictMargin(relative: 0.10, statistic: "test")
    let capacity = ByteCount(1_100)
    // 1,000 B x 1.10 = 1,100 B: exactly at the capacity fits.
    #expect(Verdict(peak: ByteCount(1_000), capacity: capacity, margin: margin) == .fits)
    #expect(Verdict(peak: ByteCount(1_001), capacity: capacity, margin: margin) == .tight)
    #expect(Verdict(peak: ByteCount(1_100), capacity: capacity, margin: margin) == .tight)
    // Over the capacity never fits, whatever the margin.
    #expect(Verdict(peak: ByteCount(1_101), capacity: capacity, margin: margin) == .doesNotFit)
    #expect(
      Verdict(peak: ByteCount(1_101), capacity: capacity, margin: VerdictMargin(relative: 0, statistic: ""))
        == .doesNotFit)
    #expect(Verdict(peak: .overflow, capacity: capacity, margin: margin) == .doesNotFit)
    #expect(Verdict.fits < .tight && Verdict.tight < .doesNotFit)
  }

  /// The one-GPU margin covers the fitcheck runs' process peaks and the high-trust published
  /// one-GPU runs that measure the process: fms-acceleration's transformers 4.45 rows p2-039, p2-041
  /// and p2-043 (nvidia-smi, GiB); no other published one-GPU row of high trust measures the
  /// process or the peak reserved with a validated recipe (056 is torchtune-0.1's, a recipe with a
  /// validation gap). The margin is the worst of them, rounded up to 0.01%.
  @Test func theMarginIsTheLargestUnderestimateOfTheValidationData() throws {
    let folder = "gpu-measured/fitcheck-t4/"
    let report = try CalibrationValidation.run(
      cpuSteps: nil,
      gpuRuns: [
        try TestData.calibration(folder + "final-t4-20260921.json"),
        try TestData.calibration(folder + "t4-qlora-2026-09-01.json"),
      ],
      gpuModels: try TestData.calibration(folder + "models.json"),
      published: try TestData.calibration("published/measurements.json"),
      morePublished: try TestData.calibration("published/more-runs.json"))
    let rows = report.rows.filter { $0.dataSet == "fitcheck-t4" && $0.figure == "process" }
    #expect(rows.count >= 20)
    var measuredAndEstimated = rows.map { (name: $0.caseName, measured: $0.measured, estimated: $0.estimated) }
    for id in ["p2-039", "p2-041", "p2-043"] {
      let row = try #require(report.published.first { $0.id == id })
      #expect(row.figure == .process && row.trustGroup == "high" && !row.usesEngine)
      let measured = try #require(row.readings.first { $0.unit == "GiB" }).bytes
      measuredAndEstimated.append((id, measured, row.estimated))
    }
    let worst = measuredAndEstimated.map { Double($0.measured) / Double($0.estimated) - 1 }.max() ?? 0
    // Covers every observed underestimate, by at most the 0.01% rounding.
    #expect(VerdictMargin.measured.relative >= worst)
    #expect(VerdictMargin.measured.relative < max(0, worst) + 0.0001 + 1e-12)
    for row in measuredAndEstimated {
      #expect(Double(row.estimated) * (1 + VerdictMargin.measured.relative) >= Double(row.measured), "\(row.name)")
    }
  }

  /// The margin under FSDP or DeepSpeed covers every high-trust published run that used one:
  /// Answer.AI's fsdp_qlora benchmark rows 088-098 (peak reserved per GPU, GiB; 092 ran FSDP's
  /// NO_SHARD on two GPUs), each measured figure at most our estimate times one plus the margin,
  /// and the margin no larger than the worst of them needs (rounded up to 0.01%).
  @Test func theEngineMarginIsTheLargestUnderestimateOfThePublishedRunsUnderAnEngine() throws {
    let report = try CalibrationValidation.run(
      cpuSteps: nil, gpuRuns: [], gpuModels: nil,
      published: try TestData.calibration("published/measurements.json"))
    let ids = (88...98).map { String(format: "%03d", $0) }
    let rows = report.published.filter { ids.contains($0.id) }
    #expect(rows.count == ids.count)
    var worst = 0.0
    for row in rows {
      let measured = try #require(row.readings.first { $0.unit == "GiB" }).bytes
      #expect(Double(row.estimated) * (1 + VerdictMargin.measuredUnderEngine.relative) >= Double(measured), "\(row.id)")
      worst = max(worst, Double(measured) / Double(row.estimated) - 1)
    }
    #expect(VerdictMargin.measuredUnderEngine.relative >= worst)
    #expect(VerdictMargin.measuredUnderEngine.relative < worst + 0.0001 + 1e-12)
  }

  @Test func fitTableCompareAndSolveAgreeOnAGridOfSetups() throws {
    let models = try Self.models.map { try Self.presets.model(named: $0) }
    let gpus = try Self.gpus.map { try Self.presets.gpu(named: $0) }
    let grid = try PlanningGrid(
      models: models, ranks: Self.ranks, sequenceLengths: Self.lengths, gpus: gpus, base: TrainingSetup())
    var cells = 0
    var seen: Set<Verdict> = []
    // solve's boundaries, once per model, length and GPU.
    var boundaries: [String: Planner.Answer] = [:]
    for row in try grid.allRows() {
      let asGiven = try SetupVariant.named("as-given").applied(to: row.setup)
      #expect(asGiven == row.setup)
      for (gpu, cell) in zip(gpus, row.cells) {
        let fit = try #require(try MemoryEstimator.estimate(model: row.model, setup: row.setup, gpu: gpu).verdict)
        let compare = try Planner(model: row.model, setup: asGiven, gpu: gpu).evaluate(asGiven).verdict
        #expect(
          cell.verdict == fit && compare == fit,
          "\(row.model.name) r\(row.setup.lora.rank) s\(row.setup.sequenceLength) \(gpu.name)")
        let key = "\(row.model.name)/\(row.setup.sequenceLength)/\(gpu.name)"
        if boundaries[key] == nil {
          boundaries[key] = try Planner(model: row.model, setup: row.setup, gpu: gpu).largest(.rank)
        }
        let answer = try #require(boundaries[key])
        let rank = row.setup.lora.rank
        // Above the fits answer nothing fits, above the tight answer nothing is accepted; below,
        // a rank is worse than the answer only where solve reports a hole with its verdict.
        let hole = answer.holes.first { $0.values.contains(rank) }
        let solve: Verdict =
          hole?.verdict
          ?? (rank <= (answer.fitting?.value ?? 0) ? .fits : rank <= (answer.mayFit?.value ?? 0) ? .tight : .doesNotFit)
        #expect(solve == fit, "solve: \(key) r\(rank)")
        for found in [answer.fitting, answer.mayFit].compactMap({ $0 }) where found.value == rank {
          #expect(found.evaluation.verdict == fit, "solve's answer: \(key) r\(rank)")
        }
        seen.insert(fit)
        cells += 1
      }
    }
    #expect(cells >= 200)
    #expect(seen == Set(Verdict.allCases), "the grid reaches all three verdicts")
  }
}

import Foundation
import QLoRABudget
import QLoRABudgetInputs

/// How fast planning is, each the median of several runs: full estimates per second in the
/// library on one core (the breakdown, the allocator simulated over the run's schedule, the
/// verdict's input: what every `fit`, `solve` probe and `table` cell computes; once resuming
/// each replay where it parts from the one before, once replaying each from the start), the peak
/// allocated alone per second (the same walk without the simulation), a rank solve by
/// bisection, `fit`'s work for a verdict that is not `fits` (the estimate and the planner's
/// changes), a `table`'s time per cell, and the wall time of a cold `qlora-budget fit` process
/// (the binary beside this one in the build folder).
struct EstimatorBenchmark: Benchmark {
  let name = "estimator"

  func run(_ options: BenchmarkOptions) -> BenchmarkResult {
    let runs = options.quick ? 3 : 11
    // Full estimates replay ~18,000 allocator events each: fewer per run. Both batches cycle
    // through the same 64 ranks.
    let batch = options.quick ? 128 : 1_280
    let allocatedBatch = options.quick ? 2_000 : 20_000
    var result = BenchmarkResult(title: "Estimator and planner (\(runs) runs, medians, one thread)")
    guard let model = try? PresetCatalog.bundled.model(named: "qwen3-14b"),
      let gpu = try? PresetCatalog.bundled.gpu(named: "rtx-4090")
    else {
      result.notes = ["presets missing"]
      return result
    }
    var setup = TrainingSetup()
    setup.lora.rank = 32
    result.notes = [
      "qwen3-14b, NF4+DQ, r=32 all-linear, rtx-4090; ranks 8-71 in turn; \(batch) full estimates and \(allocatedBatch) allocated peaks per run"
    ]

    var sink = Int64(0)
    func estimates() {
      for index in 0..<batch {
        var varied = setup
        varied.lora.rank = 8 + Int64(index & 63)
        if let estimate = try? MemoryEstimator.estimate(model: model, setup: varied, gpu: gpu) {
          sink &+= estimate.residentBytes.bytes
        }
      }
    }
    let estimateSeconds = Stopwatch.median(runs: runs, estimates)
    result.figures.append(("estimates_per_second_1_thread", Double(batch) / estimateSeconds))
    result.figures.append(("estimate_microseconds", estimateSeconds / Double(batch) * 1e6))
    result.figures.append(
      ("estimate_cpu_microseconds", Stopwatch.medianCPU(runs: runs, estimates) / Double(batch) * 1e6))

    // The same estimates, each replaying its schedule from the start: what an estimate costs
    // when it shares no prefix with the one before (a cold `fit`, a new model).
    func unsharedEstimates() {
      for index in 0..<batch {
        var varied = setup
        varied.lora.rank = 8 + Int64(index & 63)
        AllocatorReserve.forgetKeptReplays()
        if let estimate = try? MemoryEstimator.estimate(model: model, setup: varied, gpu: gpu) {
          sink &+= estimate.residentBytes.bytes
        }
      }
    }
    result.figures.append(
      ("estimate_unshared_cpu_microseconds", Stopwatch.medianCPU(runs: runs, unsharedEstimates) / Double(batch) * 1e6))

    func allocatedPeaks() {
      for index in 0..<allocatedBatch {
        var varied = setup
        varied.lora.rank = 8 + Int64(index & 63)
        if let peak = try? MemoryEstimator.peakAllocated(model: model, setup: varied, gpu: gpu) { sink &+= peak.bytes }
      }
    }
    let allocatedSeconds = Stopwatch.median(runs: runs, allocatedPeaks)
    result.figures.append(("allocated_peaks_per_second_1_thread", Double(allocatedBatch) / allocatedSeconds))
    result.figures.append(("allocated_peak_microseconds", allocatedSeconds / Double(allocatedBatch) * 1e6))
    result.figures.append(
      (
        "allocated_peak_cpu_microseconds",
        Stopwatch.medianCPU(runs: runs, allocatedPeaks) / Double(allocatedBatch) * 1e6
      ))

    let planner = Planner(model: model, setup: setup, gpu: gpu)
    var probes = 0
    func solveRank() { if let answer = try? planner.largest(.rank) { probes = answer.probes } }
    result.figures.append(("solve_rank_milliseconds", Stopwatch.median(runs: runs, solveRank) * 1e3))
    result.figures.append(("solve_rank_cpu_milliseconds", Stopwatch.medianCPU(runs: runs, solveRank) * 1e3))
    result.figures.append(("solve_rank_estimates", Double(probes)))

    // What `fit` computes for a verdict that is not `fits` (`fit qwen3-14b --gpu rtx-4090 --rank 32
    // --seq-len 2816`: does not fit; the README's headline at r=32 fits since issue 17): the
    // estimate, then the planner's single changes that make it fit.
    let fitRuns = options.quick ? 3 : 11
    var tight = setup
    tight.sequenceLength = 2_816
    let tightPlanner = Planner(model: model, setup: tight, gpu: gpu)
    var changeCount = 0
    func fitVerdict() {
      guard let estimate = try? MemoryEstimator.estimate(model: model, setup: tight, gpu: gpu) else { return }
      sink &+= estimate.peak.process.bytes
      if estimate.verdict != .fits, let changes = try? tightPlanner.changes() { changeCount = changes.count }
    }
    result.figures.append(("fit_with_changes_milliseconds", Stopwatch.median(runs: fitRuns, fitVerdict) * 1e3))
    // The planner judges its candidates on every core: the CPU time of all threads.
    result.figures.append(("fit_with_changes_cpu_milliseconds", Stopwatch.medianCPU(runs: fitRuns, fitVerdict) * 1e3))
    result.figures.append(("fit_changes_found", Double(changeCount)))

    // A `table`: Qwen3-8B, 4 ranks x 5 lengths on an RTX 4090 and an A100 80GB (their runs share
    // a schedule, so a row replays once): 40 cells, rows estimated a batch at a time on every
    // core; the CPU time of all threads per cell.
    if let tableModel = try? PresetCatalog.bundled.model(named: "qwen3-8b"),
      let tableGPUs = try? ["rtx-4090", "a100-80gb"].map({ try PresetCatalog.bundled.gpu(named: $0) }),
      let grid = try? PlanningGrid(
        models: [tableModel], ranks: [8, 16, 32, 64], sequenceLengths: [512, 1_024, 2_048, 4_096, 8_192],
        gpus: tableGPUs, base: TrainingSetup())
    {
      func table() {
        var rows = grid.rows()
        while let row = try? rows.next() { sink &+= row.cells[0].bytes.bytes }
      }
      let cells = Double(grid.cellCount)
      result.figures.append(("table_cell_milliseconds", Stopwatch.median(runs: runs, table) / cells * 1e3))
      result.figures.append(("table_cell_cpu_milliseconds", Stopwatch.medianCPU(runs: runs, table) / cells * 1e3))
    }

    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("qlora-budget")
    if FileManager.default.isExecutableFile(atPath: binary.path) {
      let fitRuns = options.quick ? 5 : 21
      let fit = Stopwatch.median(runs: fitRuns) {
        Self.spawn(binary.path, ["fit", "qwen3-14b", "--gpu", "rtx-4090", "--rank", "32"])
      }
      let version = Stopwatch.median(runs: fitRuns) { Self.spawn(binary.path, ["--version"]) }
      result.figures.append(("cold_fit_process_milliseconds", fit * 1e3))
      result.figures.append(("cold_version_process_milliseconds", version * 1e3))
      result.notes.append(
        "cold processes started with posix_spawn, output to /dev/null; --version is the start-up floor")
    } else {
      result.notes.append("no qlora-budget binary beside the bench: build it to time a cold fit")
    }
    if sink == 42 { result.notes.append("") }  // keeps the estimates from being optimized away
    return result
  }

  /// Runs a process to completion with posix_spawn (Foundation's Process adds tens of ms on Linux);
  /// returns whether it exited with status 0.
  @discardableResult
  static func spawn(_ path: String, _ arguments: [String]) -> Bool {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, path, &actions, nil, argv, environ) == 0 else { return false }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return status == 0
  }
}

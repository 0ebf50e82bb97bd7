import Foundation

/// One benchmark: runs and returns its figures. Add a benchmark as a new file and list it in main.swift.
protocol Benchmark {
  /// What `--only` selects it by.
  var name: String { get }
  func run(_ options: BenchmarkOptions) -> BenchmarkResult
}

/// The figures of one benchmark, in the order they were measured.
struct BenchmarkResult {
  var title: String
  /// Context printed above the figures (sizes, settings, thread counts).
  var notes: [String] = []
  /// Named figures; the JSON keys. Names say their unit (`_gbps`, `_elements_per_second`).
  var figures: [(name: String, value: Double)] = []
}

/// Command-line flags of the bench.
struct BenchmarkOptions {
  static let usage = """
    USAGE: qlora-budget-bench [--json] [--quick] [--only nf4|estimator|scale|check]

    OPTIONS:
      --json          Print one JSON object of all figures.
      --quick         A short smoke run (small tensors, few repetitions).
      --only <name>   Run one benchmark: nf4, estimator, scale (writes ~4.9 GB to the temp folder)
                      or check (writes 1 GiB).
      --help          Show this help.
    """

  var json = false
  var quick = false
  var showHelp = false
  /// The one benchmark to run; nil runs all.
  var only: String?
  var unknownArguments: [String] = []

  init(arguments: [String]) {
    var remaining = arguments[...]
    while let argument = remaining.popFirst() {
      switch argument {
      case "--json": json = true
      case "--quick": quick = true
      case "--help", "-h": showHelp = true
      case "--only":
        guard let name = remaining.popFirst() else {
          unknownArguments.append("--only (needs a name)")
          continue
        }
        only = name
      default: unknownArguments.append(argument)
      }
    }
  }
}

/// Wall-clock timing: the median of several runs.
enum Stopwatch {
  /// Seconds taken by `body`, the median of `runs` runs after one warm-up run.
  static func median(runs: Int, _ body: () -> Void) -> Double {
    median(runs: runs, clock: { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }, body)
  }

  /// CPU seconds of the whole process (every thread) taken by `body`, the median of `runs`
  /// runs after one warm-up run: on a shared machine, what the work costs whatever the wait.
  static func medianCPU(runs: Int, _ body: () -> Void) -> Double {
    median(
      runs: runs,
      clock: {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
      }, body)
  }

  private static func median(runs: Int, clock: () -> Double, _ body: () -> Void) -> Double {
    body()
    var times: [Double] = []
    for _ in 0..<runs {
      let start = clock()
      body()
      times.append(clock() - start)
    }
    times.sort()
    return times.count % 2 == 1
      ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
  }
}

/// Text and JSON output.
enum BenchmarkReport {
  static func text(_ results: [BenchmarkResult]) -> String {
    results.map { result in
      let width = result.figures.map(\.name.count).max() ?? 0
      let lines = result.figures.map { figure in
        figure.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + format(figure.value)
      }
      return ([result.title] + result.notes.map { "  " + $0 } + lines.map { "  " + $0 }).joined(separator: "\n")
    }.joined(separator: "\n\n")
  }

  static func json(_ results: [BenchmarkResult]) -> String {
    let pairs = results.flatMap(\.figures).map { "  \"\($0.name)\": \(jsonNumber($0.value))" }
    return "{\n" + pairs.joined(separator: ",\n") + "\n}"
  }

  private static func format(_ value: Double) -> String {
    value >= 1e6 ? String(format: "%.4g", value) : String(format: "%.3f", value)
  }

  private static func jsonNumber(_ value: Double) -> String {
    value.isFinite ? String(format: "%.6g", value) : "null"
  }
}

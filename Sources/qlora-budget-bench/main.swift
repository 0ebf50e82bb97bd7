import Foundation

/// qlora-budget-bench: throughput figures for the package's hot paths.
///
///     swift run -c release qlora-budget-bench            # human-readable table
///     swift run -c release qlora-budget-bench --json     # one JSON object
///     swift run -c release qlora-budget-bench --quick    # a short smoke run
///
/// Each benchmark lives in its own file and returns named figures; this file only parses the
/// flags, runs the benchmarks and prints.
let options = BenchmarkOptions(arguments: Array(CommandLine.arguments.dropFirst()))
if options.showHelp {
  print(BenchmarkOptions.usage)
} else if let unknown = options.unknownArguments.first {
  FileHandle.standardError.write(Data("Error: Unknown option '\(unknown)'.\n\(BenchmarkOptions.usage)\n".utf8))
  exit(64)
} else {
  let benchmarks: [any Benchmark] = [NF4Benchmark(), EstimatorBenchmark(), ScaleBenchmark(), QuantizeCheckBenchmark()]
  let selected = benchmarks.filter { options.only == nil || $0.name == options.only }
  if selected.isEmpty {
    FileHandle.standardError.write(
      Data("Error: no benchmark named '\(options.only ?? "")'.\n\(BenchmarkOptions.usage)\n".utf8))
    exit(64)
  }
  let results = selected.map { $0.run(options) }
  print(options.json ? BenchmarkReport.json(results) : BenchmarkReport.text(results))
}

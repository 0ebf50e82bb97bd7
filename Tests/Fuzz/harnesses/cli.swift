// libFuzzer harness: the whole command line, run in-process with output captured and discarded.
// Compiled into the command layer's module (Tests/Fuzz/run.sh).
//
// The input is split at NUL bytes into at most 32 arguments (invalid UTF-8 repaired). The
// harness runs in an empty temporary folder and skips inputs with an argument that names a
// path ('/' or a leading '.'), so a model argument is always a preset name, never a file, and
// inputs that would read stdin (`mcp`, `diagnose -`).
// Checks: the exit status is one of the documented ones; a failure writes 'Error: ' first on
// stderr; success writes something on stdout; `--json` output of estimate/fit is valid JSON
// (unless `--help` follows the command: then its help is printed, as documented).
import Foundation
import QLoRABudget
import QLoRABudgetInputs

private let sandbox: Void = {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qlora-budget-fuzz-\(getpid())")
  try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  _ = FileManager.default.changeCurrentDirectoryPath(folder.path)
}()

final class Capture: @unchecked Sendable {
  var out = ""
  var err = ""
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCLI(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  _ = sandbox
  let bytes = UnsafeBufferPointer(start: start, count: count)
  let arguments = bytes.split(separator: 0, maxSplits: 32, omittingEmptySubsequences: false)
    .map { String(decoding: $0, as: UTF8.self) }
  guard arguments.count <= 32, !arguments.contains(where: { $0.contains("/") || $0.hasPrefix(".") }) else { return -1 }
  // `mcp` serves stdin and `diagnose -` reads it: the fuzzer's stdin is not an input.
  guard arguments.first != "mcp", !(arguments.first == "diagnose" && arguments.contains("-")) else { return -1 }
  // `quantize-check --shape RxC` quantizes R x C synthetic weights by design (up to 2^28): keep
  // them small so that the fuzzer's 64 MB allocation limit flags only unintended allocations.
  if let shape = syntheticShapeElements(arguments), shape > 1 << 16 { return -1 }
  let capture = Capture()
  let context = CommandContext(
    standardOutput: { capture.out += $0 }, standardError: { capture.err += $0 },
    environment: [:], presets: .bundled, usesColor: arguments.count % 2 == 0)
  let status = CommandLineTool.run(arguments, context: context)
  switch status {
  case .success, .tight, .doesNotFit:
    require(!capture.out.isEmpty, "\(arguments): exit \(status.rawValue) with nothing on stdout")
    // `--help` anywhere after the command prints the command's help instead, even with --json.
    if arguments.contains("--json"), ["estimate", "fit"].contains(arguments.first ?? ""),
      !arguments.dropFirst().contains(where: { $0 == "--help" || $0 == "-h" })
    {
      let json = Data(capture.out.utf8)
      require((try? JSONSerialization.jsonObject(with: json)) != nil, "\(arguments): --json output is not JSON")
    }
  case .failure, .usage:
    require(capture.err.hasPrefix("Error: "), "\(arguments): exit \(status.rawValue) without an error message")
  }
  return 0
}

/// The element count a `--shape RxC` argument asks for, if any (nil when there is none).
func syntheticShapeElements(_ arguments: [String]) -> Int? {
  var values: [String] = []
  for (index, argument) in arguments.enumerated() {
    if argument == "--shape", index + 1 < arguments.count { values.append(arguments[index + 1]) }
    if argument.hasPrefix("--shape=") { values.append(String(argument.dropFirst(8))) }
  }
  guard !values.isEmpty else { return nil }
  return values.map { value in
    value.lowercased().split(separator: "x").reduce(1) { product, part in
      let (next, overflow) = product.multipliedReportingOverflow(by: max(1, Int(part) ?? 1))
      return overflow ? Int.max : next
    }
  }.max()
}

/// Reports a broken invariant with its message (kept in optimized builds) and aborts.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
  guard !condition else { return }
  FileHandle.standardError.write(Data("fuzz invariant broken: \(message())\n".utf8))
  abort()
}

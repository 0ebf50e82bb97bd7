// libFuzzer harness: the whole command line, run in-process with output captured and discarded.
// Compiled into the command layer's module (Tests/Fuzz/run.sh).
//
// The input is split at NUL bytes into at most 32 arguments (invalid UTF-8 repaired). The
// harness runs in an empty temporary folder and skips inputs with an argument that names a
// path ('/' or a leading '.'), so a model argument is always a preset name, never a file.
// Checks: the exit status is one of the documented ones; a failure writes 'Error: ' first on
// stderr; success writes something on stdout; `--json` output of estimate/fit is valid JSON.
import Foundation
import QLoRABudget

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
  let capture = Capture()
  let context = CommandContext(
    standardOutput: { capture.out += $0 }, standardError: { capture.err += $0 },
    environment: [:], presets: .bundled, usesColor: arguments.count % 2 == 0)
  let status = CommandLineTool.run(arguments, context: context)
  switch status {
  case .success, .doesNotFit:
    require(!capture.out.isEmpty, "\(arguments): exit \(status.rawValue) with nothing on stdout")
    if arguments.contains("--json"), ["estimate", "fit"].contains(arguments.first ?? "") {
      let json = Data(capture.out.utf8)
      require((try? JSONSerialization.jsonObject(with: json)) != nil, "\(arguments): --json output is not JSON")
    }
  case .failure, .usage:
    require(capture.err.hasPrefix("Error: "), "\(arguments): exit \(status.rawValue) without an error message")
  }
  return 0
}

/// Reports a broken invariant with its message (kept in optimized builds) and aborts.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
  guard !condition else { return }
  FileHandle.standardError.write(Data("fuzz invariant broken: \(message())\n".utf8))
  abort()
}

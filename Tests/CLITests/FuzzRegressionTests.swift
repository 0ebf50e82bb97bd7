import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Testing

@testable import qlora_budget

/// The command-line fuzz corpus and regressions (Tests/Fuzz/{corpus,regressions}/cli), run
/// in-process through `CommandLineTool.run` the way the harness runs them: arguments are the
/// input split at NUL bytes. Every run ends with a documented exit status and says why.
@Suite struct CLIFuzzRegressionTests {
  static func inputs(_ kind: String, _ harness: String) -> [URL] {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fuzz").appendingPathComponent(kind).appendingPathComponent(harness)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return names.sorted().map { folder.appendingPathComponent($0) }
  }

  static let allInputs = inputs("corpus", "cli") + inputs("regressions", "cli")

  final class Capture: @unchecked Sendable {
    var out = ""
    var err = ""
  }

  static func run(_ arguments: [String]) -> (qlora_budget.ExitStatus, Capture) {
    let capture = Capture()
    let context = CommandContext(
      standardOutput: { capture.out += $0 }, standardError: { capture.err += $0 },
      environment: [:], presets: .bundled, usesColor: false)
    return (CommandLineTool.run(arguments, context: context), capture)
  }

  /// The arguments with every file a command would write moved to a temporary folder (the
  /// harness runs in one; these tests run in the package root).
  static func confined(_ arguments: [String]) -> [String] {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-fuzz-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var result: [String] = []
    var writesNext = false
    for argument in arguments {
      if writesNext {
        result.append(
          folder.appendingPathComponent(argument.isEmpty ? "x" : argument.replacingOccurrences(of: "/", with: "_")).path
        )
      } else if let equals = argument.firstIndex(of: "="), ["--svg", "--output"].contains(argument[..<equals]) {
        result.append(String(argument[...equals]) + folder.appendingPathComponent("out").path)
      } else {
        result.append(argument)
      }
      writesNext = !writesNext && ["--svg", "--output"].contains(argument)
    }
    if result.first == "validate", !result.contains(where: { $0.hasPrefix("--output") }) {
      result += ["--output", folder.appendingPathComponent("validation.md").path]
    }
    if result.first == "validate", !result.contains(where: { $0.hasPrefix("--margin-output") }) {
      result += ["--margin-output", folder.appendingPathComponent("MeasuredMargin.swift").path]
    }
    return result
  }

  /// The harness's checks (Tests/Fuzz/harnesses/cli.swift).
  static func expectSound(_ arguments: [String]) throws {
    let (status, capture) = run(arguments)
    switch status {
    case .success, .tight, .doesNotFit:
      #expect(!capture.out.isEmpty, "\(arguments)")
      if arguments.contains("--json"), ["estimate", "fit"].contains(arguments.first ?? ""),
        !arguments.dropFirst().contains(where: { $0 == "--help" || $0 == "-h" })
      {
        #expect((try? JSONSerialization.jsonObject(with: Data(capture.out.utf8))) != nil, "\(arguments)")
      }
    case .failure, .usage:
      #expect(capture.err.hasPrefix("Error: "), "\(arguments): \(capture.err)")
    }
  }

  @Test func theCorpusIsThere() {
    #expect(Self.allInputs.count >= 15)
  }

  @Test(arguments: allInputs.map(\.lastPathComponent))
  func corpusCommandLineEndsWithADocumentedStatus(_ name: String) throws {
    let url = try #require(Self.allInputs.first { $0.lastPathComponent == name })
    let bytes = [UInt8](try Data(contentsOf: url))
    let arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).map {
      String(decoding: $0, as: UTF8.self)
    }
    try Self.expectSound(Self.confined(arguments))
  }

  /// Every size seed as `--gpu`: a capacity or a preset, else a usage error naming the value.
  @Test func sizeSeedsAsGPUCapacities() throws {
    for url in Self.inputs("corpus", "size") + Self.inputs("regressions", "size") {
      let text = String(decoding: try Data(contentsOf: url), as: UTF8.self)
      try Self.expectSound(["fit", "qwen3-0.6b", "--gpu", text, "--json"])
    }
  }

  /// Issue 6's largest setup through the command line: a clear error or a figure, never a trap.
  @Test func theLargestSetupOnTheLargestPreset() throws {
    let arguments = [
      "estimate", "llama-3.1-405b", "--rank", "65536", "--batch", "65536", "--seq-len", "16777216",
      "--dora", "--double-quant", "false", "--blocksize", "32", "--json",
    ]
    let (status, capture) = Self.run(arguments)
    if status == .success {
      let json = try #require(try JSONSerialization.jsonObject(with: Data(capture.out.utf8)) as? [String: Any])
      #expect((json["resident_bytes"] as? Int64 ?? 0) > 0)
    } else {
      #expect(capture.err.hasPrefix("Error: "))
    }
  }
}

import Foundation
import Testing

/// `--engine`, `--nodes`, `--offload` and the DeepSpeed keys on the command line, and
/// `solve --find gpus` answering with an engine and offload.
@Suite struct EngineOptionsTests {
  /// The JSON a command prints (`fit` exits non-zero for a run that does not fit).
  static func json(_ arguments: [String]) throws -> [String: Any] {
    let result = try BinaryRunner.run(arguments + ["--json"])
    #expect(result.standardError.isEmpty, "\(result.standardError)")
    return try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
  }

  @Test(arguments: [
    (["fit", "llama-2-7b", "--gpu", "rtx-4090", "--engine", "zero4"], "'--engine'"),
    (
      ["fit", "llama-2-7b", "--gpu", "rtx-4090", "--gpus", "2", "--offload", "optimizer"],
      "'--offload': FSDP offloads parameters"
    ),
    (
      ["fit", "llama-2-7b", "--gpu", "rtx-4090", "--gpus", "2", "--engine", "zero2", "--offload", "params"],
      "'--offload': parameter offload needs zero3"
    ),
    (
      ["fit", "llama-2-7b", "--gpu", "rtx-4090", "--gpus", "4", "--nodes", "3"],
      "'--nodes': a divisor of the GPU count 4"
    ),
    (["fit", "llama-2-7b", "--gpu", "rtx-4090", "--offload", "cpu"], "'--offload'"),
    // A device never ends: refused before reading, not read forever.
    (["fit", "llama-2-7b", "--gpu", "rtx-4090", "--deepspeed", "/dev/zero"], "'--deepspeed'"),
    (
      ["fit", "llama-2-7b", "--gpu", "rtx-4090", "--engine", "zero3", "--stage3-prefetch-bucket-size", "5.5"],
      "'--stage3-prefetch-bucket-size'"
    ),
  ])
  func badEngineOptionsNameTheField(_ arguments: [String], _ expected: String) throws {
    let result = try BinaryRunner.run(arguments)
    #expect(result.status == 64)
    #expect(result.standardError.hasPrefix("Error: "))
    #expect(result.standardError.contains(expected), "\(result.standardError)")
  }

  /// The DeepSpeed keys take config spellings (5e7) and change the ZeRO-3 gather row.
  @Test func deepSpeedKeysReachTheEstimate() throws {
    let base = ["estimate", "llama-2-70b", "--gpus", "8", "--engine", "zero3"]
    func gather(_ extra: [String]) throws -> Int64 {
      let components = try #require(try Self.json(base + extra)["components"] as? [[String: Any]])
      let row = try #require(components.first { $0["id"] as? String == "fsdp_gather" })
      return try #require((row["bytes"] as? NSNumber)?.int64Value)
    }
    // Doubling the prefetch bucket from 5e7 to 1e8 elements adds 5e7 x 2 B (bf16 storage).
    #expect(try gather(["--stage3-prefetch-bucket-size", "1e8"]) - gather([]) == 50_000_000 * 2)
  }

  /// The answer of `solve --find gpus` fits as `fit` sees it, and one GPU fewer with the same
  /// engine and offload does not.
  @Test func solveFindGPUsAnswersWithAnEngine() throws {
    let solved = try Self.json(["solve", "llama-2-70b", "--gpu", "rtx-4090", "--find", "gpus"])
    let plan = try #require(solved["fewest_gpus_without_offload"] as? [String: Any])
    let count = try #require((plan["count"] as? NSNumber)?.int64Value)
    let engine = try #require(plan["engine"] as? String)
    #expect(plan["offload"] as? String == "none")
    func fits(_ gpus: Int64) throws -> Bool {
      let fit = try Self.json(["fit", "llama-2-70b", "--gpu", "rtx-4090", "--gpus", String(gpus), "--engine", engine])
      return fit["verdict"] as? String == "fits"
    }
    #expect(try fits(count))
    #expect(try !fits(count - 1))
  }

  /// `--deepspeed FILE` sets the engine and offload; a flag given beside it wins.
  @Test func deepSpeedConfigFileOnTheCommandLine() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("engines-ds-\(getpid()).json")
    try Data(#"{"zero_optimization": {"stage": 3, "offload_optimizer": {"device": "cpu"}}}"#.utf8).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let fromFile = try #require(
      try Self.json(["estimate", "llama-2-70b", "--gpus", "2", "--deepspeed", file.path])["setup"] as? [String: Any])
    #expect(fromFile["engine"] as? String == "zero3")
    #expect(fromFile["offload"] as? String == "optimizer")
    let overridden = try #require(
      try Self.json(
        ["estimate", "llama-2-70b", "--gpus", "2", "--deepspeed", file.path, "--engine", "zero2"])["setup"]
        as? [String: Any])
    #expect(overridden["engine"] as? String == "zero2")
    let missing = try BinaryRunner.run(["estimate", "llama-2-70b", "--deepspeed", file.path + ".missing"])
    #expect(missing.status == 64)
    #expect(missing.standardError.contains("'--deepspeed'"))
  }
}

import Foundation
import Testing
import QLoRABudget

/// The rough edges a new user hit (issue 20), each through the real binary: contradictory
/// answers, wrong answers and output that cut or garbled what it showed.
@Suite struct RoughEdgesTests {
  static func json(_ arguments: [String]) throws -> [String: Any] {
    let result = try BinaryRunner.run(arguments + ["--json"])
    #expect(result.status == 0 || result.status == 3, "\(arguments): \(result.standardError)")
    return try BinaryRunner.json(result)
  }

  // MARK: contradictions

  /// Without --alpha, alpha follows each rank of a table (2 x 8, 2 x 64); with it, it stays.
  @Test func tableAlphaFollowsEachRank() throws {
    let rows = { (extra: [String]) throws -> [Double] in
      let object = try Self.json(["table", "--models", "qwen3-8b", "--gpu", "t4", "--ranks", "8,64"] + extra)
      return try #require(object["rows"] as? [[String: Any]]).map { (($0["setup"] as? [String: Any])?["alpha"] as? Double) ?? -1 }
    }
    #expect(try rows([]) == [16, 128])
    #expect(try rows(["--alpha", "32"]) == [32, 32])
  }

  /// `compare` and `solve` give the same fewest GPUs, with the same engine: one meaning of
  /// `fewest_gpus` (qwen3-8b on a T4: ZeRO-1 casts the module to fp16 and fits on one).
  @Test func compareAndSolveAgreeOnFewestGPUs() throws {
    let solve = try Self.json(["solve", "qwen3-8b", "--gpu", "t4", "--dtype", "fp16", "--find", "gpus"])
    let compare = try Self.json(["compare", "qwen3-8b", "--gpu", "t4", "--dtype", "fp16", "--setups", "qlora"])
    let solved = try #require(solve["fewest_gpus"] as? [String: Any])
    let column = try #require((compare["columns"] as? [[String: Any]])?.first)
    let compared = try #require((column["gpus"] as? [[String: Any]])?.first?["fewest_gpus"] as? [String: Any])
    for verdict in ["fits", "tight"] {
      let a = try #require(solved[verdict] as? [String: Any])
      let b = try #require(compared[verdict] as? [String: Any])
      #expect(a["count"] as? Int64 == b["count"] as? Int64 && a["engine"] as? String == b["engine"] as? String)
      #expect(a["offload"] as? String == b["offload"] as? String)
    }
    let text = try BinaryRunner.run(["compare", "qwen3-8b", "--gpu", "t4", "--dtype", "fp16", "--setups", "qlora"]).standardOutput
    #expect(!text.contains("GPUs needed (FSDP)"))
    #expect(text.contains("Fewest GPUs that fit"))
  }

  /// planning.md: the GPU search runs in multiples of --nodes (without --gpus, one GPU a node).
  @Test func solveFindsGPUsInMultiplesOfNodes() throws {
    let result = try BinaryRunner.run(["solve", "qwen3-8b", "--gpu", "t4", "--dtype", "fp16", "--find", "gpus", "--nodes", "2", "--json"])
    #expect(result.status == 0, "\(result.standardError)")
    let object = try BinaryRunner.json(result)
    let count = try #require(((object["fewest_gpus"] as? [String: Any])?["fits"] as? [String: Any])?["count"] as? Int64)
    #expect(count % 2 == 0 && count >= 2)
    #expect((object["setup"] as? [String: Any])?["gpus"] as? Int64 == 2)
  }

  /// Host memory has one figure in the JSON: `host.peak_bytes`; no top-level `host_bytes` that
  /// says 0 beside it.
  @Test func hostMemoryHasOneName() throws {
    let object = try Self.json(["fit", "qwen3-8b", "--gpu", "a100-80gb"])
    #expect(object["host_bytes"] == nil)
    let host = try #require(object["host"] as? [String: Any])
    // 3 GiB baseline + one 5 GB shard in 16-bit (the model is larger than a shard).
    let expected: Int64 = 3 * (1 << 30) + 5_000_000_000
    #expect((host["peak_bytes"] as? NSNumber)?.int64Value == expected)
    let compare = try Self.json(["compare", "qwen3-8b", "--gpu", "a100-80gb", "--setups", "qlora"])
    let column = try #require((compare["columns"] as? [[String: Any]])?.first)
    #expect(((column["host"] as? [String: Any])?["peak_bytes"] as? NSNumber)?.int64Value == expected)
  }

  /// ZeRO-1: one optimizer-state row on the GPU, the AdamW moments (2 x 4 B, fp32 under
  /// DeepSpeed) and the fp32 master copy (4 B) of every trainable parameter.
  @Test func zeroOneHasOneOptimizerStateRow() throws {
    let object = try Self.json(["fit", "llama-3.1-8b", "--gpu", "a100-80gb", "--engine", "zero1"])
    let components = try #require(object["components"] as? [[String: Any]])
    let optimizer = components.filter { $0["id"] as? String == "optimizer_state" }
    #expect(optimizer.count == 1)
    let trainable = try #require(object["trainable_parameters"] as? Int64)
    #expect(optimizer.first?["bytes"] as? Int64 == trainable * 8 + trainable * 4)
    let text = try BinaryRunner.run(["fit", "llama-3.1-8b", "--gpu", "a100-80gb", "--engine", "zero1"]).standardOutput
    #expect(text.components(separatedBy: "\nOptimizer state ").count == 2)
  }

  /// The loss comes back as it was given.
  @Test(arguments: ["standard", "chunked", "liger"])
  func lossComesBackAsGiven(_ loss: String) throws {
    let object = try Self.json(["fit", "qwen3-8b", "--gpu", "a100-80gb", "--loss", loss])
    #expect((object["setup"] as? [String: Any])?["loss"] as? String == loss)
  }

  /// Every command that reads a block size says the same about a wrong one.
  @Test func blockSizeHasOneRule() throws {
    let fit = try BinaryRunner.run(["fit", "qwen3-8b", "--gpu", "t4", "--blocksize", "48"])
    let quantize = try BinaryRunner.run(["quantize", "in.safetensors", "out.safetensors", "--blocksize", "48"])
    #expect(fit.status == 64 && quantize.status == 64)
    let firstLine = { (text: String) in text.split(separator: "\n").first.map(String.init) ?? "" }
    #expect(firstLine(fit.standardError) == firstLine(quantize.standardError))
    #expect(firstLine(fit.standardError).contains("32, 64, 128, 256, 512, 1024, 2048, 4096"))
  }
}

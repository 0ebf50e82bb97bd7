import Foundation
import Testing

/// `--loop`, `--platform` and `--loss` through the real binary, and the JSON `step` object.
@Suite struct StepOptionsTests {
  static func json(_ arguments: [String]) throws -> [String: Any] {
    let result = try BinaryRunner.run(arguments)
    #expect(result.status == 0, "\(result.standardError)")
    return try BinaryRunner.json(result)
  }

  static func phases(_ json: [String: Any]) throws -> [String: Int64] {
    let step = try #require(json["step"] as? [String: Any])
    return try #require(step["phases"] as? [String: Int64])
  }

  /// The plain loop holds the bf16 logits (2,048 x 128,256 x 2 B for llama-3.1-8b) through
  /// backward and the optimizer step; setup and step say which loop and platform ran.
  @Test func loopAndPlatformReachTheJSON() throws {
    let base = ["estimate", "llama-3.1-8b", "--platform", "cpu", "--json"]
    let trainer = try Self.json(base)
    let plain = try Self.json(base + ["--loop", "plain"])
    let setup = try #require(plain["setup"] as? [String: Any])
    #expect(setup["loop"] as? String == "plain")
    #expect(setup["platform"] as? String == "cpu")
    #expect((trainer["setup"] as? [String: Any])?["loop"] as? String == "trainer")
    #expect((plain["step"] as? [String: Any])?["platform"] as? String == "cpu")
    let a = try Self.phases(trainer)
    let b = try Self.phases(plain)
    #expect(Set(a.keys) == ["forward", "backward", "optimizer"])
    #expect(b["optimizer"]! - a["optimizer"]! == 2048 * 128_256 * 2)
    #expect((plain["step"] as? [String: Any])?["saved_for_backward_bytes"] as? Int64 != nil)
  }

  /// The CPU platform has no cuBLAS workspace, CUDA context or allocator reserve.
  @Test func cpuPlatformHasNoCUDAOverheads() throws {
    let json = try Self.json(["estimate", "llama-3.1-8b", "--platform", "cpu", "--gpu", "t4", "--json"])
    let components = try #require(json["components"] as? [[String: Any]])
    for id in ["cublas_workspaces", "runtime", "allocator_reserve"] {
      #expect(components.first { $0["id"] as? String == id }?["bytes"] as? Int64 == 0, "\(id)")
    }
  }

  /// issue 10: `--loss chunked` on hf-peft runs Liger's chunked loss and lowers the logits row.
  @Test func chunkedLossLowersTheLogits() throws {
    func logits(_ loss: String) throws -> Int64 {
      // fit's exit status carries the verdict; the JSON is printed either way.
      let json = try BinaryRunner.json(
        try BinaryRunner.run(["fit", "llama-3.1-8b", "--gpu", "rtx-3060-12gb", "--loss", loss, "--json"]))
      let components = try #require(json["components"] as? [[String: Any]])
      return try #require(components.first { $0["id"] as? String == "logits" }?["bytes"] as? Int64)
    }
    #expect(try logits("chunked") < logits("standard"))
    let result = try BinaryRunner.run(["estimate", "llama-3.1-8b", "--recipe", "qlora-paper", "--loss", "chunked"])
    #expect(result.status != 0)
    #expect(result.standardError.contains("--loss"))
  }
}

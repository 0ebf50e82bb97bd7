import Foundation
import Testing

/// A training config read by the planning commands: `compare`, `table` and `solve` judge the
/// run it describes exactly as `fit --config` does.
@Suite struct ConfigPlanningTests {
  static let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("QLoRABudgetTests/Fixtures/training-configs/axolotl-llama-3-qlora.yml").path

  @Test func everyCommandJudgesTheConfiguredRunAlike() throws {
    for gpu in ["rtx-4090", "l4", "a100-80gb"] {
      let fit = try BinaryRunner.json(try BinaryRunner.run(["fit", "--config", Self.config, "--gpu", gpu, "--json"]))
      let verdict = try #require(fit["verdict"] as? String)
      let bytes = try #require(fit["peak_process_bytes"] as? Int64)
      let rank = try #require((fit["setup"] as? [String: Any])?["rank"] as? Int64)
      let length = try #require((fit["setup"] as? [String: Any])?["seq_len"] as? Int64)

      let compare = try BinaryRunner.json(
        try BinaryRunner.run(
          ["compare", "--config", Self.config, "--gpu", gpu, "--setups", "as-given", "--json"]))
      let column = try #require((compare["columns"] as? [[String: Any]])?.first)
      let cell = try #require((column["gpus"] as? [[String: Any]])?.first)
      #expect(cell["verdict"] as? String == verdict, "compare on \(gpu)")
      #expect(cell["bytes"] as? Int64 == bytes)
      #expect(compare["config"] != nil)

      let table = try BinaryRunner.json(
        try BinaryRunner.run(["table", "--config", Self.config, "--gpu", gpu, "--json"]))
      let row = try #require((table["rows"] as? [[String: Any]])?.first)
      #expect(row["rank"] as? Int64 == rank && row["seq_len"] as? Int64 == length)
      #expect((row["gpus"] as? [[String: Any]])?.first?["verdict"] as? String == verdict, "table on \(gpu)")

      let solve = try BinaryRunner.json(
        try BinaryRunner.run(
          ["solve", "--config", Self.config, "--gpu", gpu, "--find", "rank", "--json"]))
      #expect((solve["as_given"] as? [String: Any])?["verdict"] as? String == verdict, "solve on \(gpu)")
      #expect(solve["config"] != nil)
    }
  }
}

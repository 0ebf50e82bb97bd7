import Foundation
import Testing

/// One verdict everywhere, through the binary: for a grid of 240 setups (4 models x 4 ranks x
/// 3 sequence lengths x 5 GPUs), `fit --json` gives the same verdict word as the `table`
/// cell, the `compare` column and the boundaries `solve` reports.
@Suite struct CLIVerdictConsistencyTests {
  static let models = ["qwen3-4b", "llama-3.1-8b", "qwen3-14b", "gemma-2-9b"]
  static let ranks = ["8", "32", "128", "512"]
  static let lengths = ["512", "2048", "8192"]
  static let gpus = ["rtx-3060-12gb", "l4", "rtx-4090", "a100-40gb", "h100-80gb"]

  @Test func fitTableCompareAndSolveAgree() throws {
    let table = try BinaryRunner.json(
      try BinaryRunner.run([
        "table", "--models", Self.models.joined(separator: ","), "--ranks", Self.ranks.joined(separator: ","),
        "--seq-lens", Self.lengths.joined(separator: ","), "--gpu", Self.gpus.joined(separator: ","), "--json",
      ]))
    let rows = try #require(table["rows"] as? [[String: Any]])
    #expect(rows.count == Self.models.count * Self.ranks.count * Self.lengths.count)
    var cells = 0
    var words: Set<String> = []
    var solved: [String: [String: Any]] = [:]
    for row in rows {
      let model = try #require(row["model"] as? String)
      let rank = String(try #require(row["rank"] as? Int64))
      let length = String(try #require(row["seq_len"] as? Int64))
      let setup = ["--rank", rank, "--seq-len", length]
      let compare = try BinaryRunner.json(
        try BinaryRunner.run(
          ["compare", model, "--gpu", Self.gpus.joined(separator: ","), "--setups", "as-given", "--json"] + setup))
      // One setup on several GPUs: a column per GPU, each judged on its own GPU.
      let compared = try #require(compare["columns"] as? [[String: Any]]).flatMap {
        $0["gpus"] as? [[String: Any]] ?? []
      }
      try #require(compared.count == Self.gpus.count)
      let tableCells = try #require(row["gpus"] as? [[String: Any]])
      for (index, gpu) in Self.gpus.enumerated() {
        let fit = try BinaryRunner.run(["fit", model, "--gpu", gpu, "--json"] + setup)
        let verdict = try #require(try BinaryRunner.json(fit)["verdict"] as? String)
        let label = "\(model) r\(rank) s\(length) \(gpu)"
        #expect(fit.status == ["fits": 0, "tight": 2, "does_not_fit": 3][verdict], "\(label)")
        #expect(tableCells[index]["verdict"] as? String == verdict, "table: \(label)")
        #expect(compared[index]["verdict"] as? String == verdict, "compare: \(label)")
        let key = "\(model) \(length) \(gpu)"
        if solved[key] == nil {
          let solve = try BinaryRunner.json(
            try BinaryRunner.run(
              ["solve", model, "--gpu", gpu, "--find", "rank", "--seq-len", length, "--json"]))
          solved[key] = try #require((solve["largest"] as? [String: Any])?["rank"] as? [String: Any])
        }
        let answer = try #require(solved[key])
        let fitting = ((answer["fits"] as? [String: Any])?["value"] as? Int64) ?? 0
        let mayFit = ((answer["tight"] as? [String: Any])?["value"] as? Int64) ?? 0
        let value = Int64(rank)!
        // Above the fits answer nothing fits, above the tight answer nothing is accepted; below,
        // a rank is worse than the answer only where solve reports a hole with its verdict.
        let holes = try #require(answer["holes"] as? [[String: Any]])
        let hole = holes.first { ($0["from"] as? Int64 ?? 0) <= value && value <= ($0["to"] as? Int64 ?? 0) }
        let fromSolve =
          hole?["verdict"] as? String ?? (value <= fitting ? "fits" : value <= mayFit ? "tight" : "does_not_fit")
        #expect(fromSolve == verdict, "solve: \(label)")
        for found in ["fits", "tight"].compactMap({ answer[$0] as? [String: Any] })
        where found["value"] as? Int64 == value {
          #expect((found["evaluation"] as? [String: Any])?["verdict"] as? String == verdict, "solve's answer: \(label)")
        }
        words.insert(verdict)
        cells += 1
      }
    }
    #expect(cells >= 200)
    #expect(words == ["fits", "tight", "does_not_fit"])
  }
}

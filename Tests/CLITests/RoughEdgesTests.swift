import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Testing

@testable import qlora_budget

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
      return try #require(object["rows"] as? [[String: Any]]).map {
        (($0["setup"] as? [String: Any])?["alpha"] as? Double) ?? -1
      }
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
    let text = try BinaryRunner.run(["compare", "qwen3-8b", "--gpu", "t4", "--dtype", "fp16", "--setups", "qlora"])
      .standardOutput
    #expect(!text.contains("GPUs needed (FSDP)"))
    #expect(text.contains("Fewest GPUs that fit"))
  }

  /// planning.md: the GPU search runs in multiples of --nodes (without --gpus, one GPU a node).
  @Test func solveFindsGPUsInMultiplesOfNodes() throws {
    let result = try BinaryRunner.run([
      "solve", "qwen3-8b", "--gpu", "t4", "--dtype", "fp16", "--find", "gpus", "--nodes", "2", "--json",
    ])
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

  /// The table's note names the engine its setup runs, not always FSDP.
  @Test func tableNoteNamesTheEngine() throws {
    let zero3 = try BinaryRunner.run([
      "table", "--models", "qwen3-8b", "--gpu", "t4", "--gpus", "2", "--engine", "zero3", "--dtype", "fp16",
    ])
    let note = zero3.standardOutput.replacingOccurrences(of: "\n", with: " ")
    #expect(note.contains("per GPU of 2 with DeepSpeed ZeRO-3") && !note.contains("with FSDP"))
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

/// The command line's own rough edges: exit codes, cut columns, colour, escapes, advice and
/// suggestions.
@Suite struct CommandLineEdgesTests {
  /// A signed size is a size refused, not an unknown GPU name.
  @Test(arguments: ["-1GB", "+0GiB", ".0GB"])
  func aSignedOrDottedGPUSizeIsRefusedAsASize(_ size: String) throws {
    let result = try BinaryRunner.run(["fit", "qwen3-8b", "--gpu", size])
    #expect(result.status == 64, "\(result.standardError)")
    #expect(result.standardError.contains("'\(size)' is not a positive size"), "\(result.standardError)")
  }

  @Test func helpForAnUnknownCommandIsAUsageError() throws {
    let help = try BinaryRunner.run(["help", "nonsense"])
    let direct = try BinaryRunner.run(["nonsense"])
    #expect(help.status == 64 && direct.status == 64)
    #expect(help.standardError == direct.standardError && help.standardOutput.isEmpty)
    #expect(try BinaryRunner.run(["help", "fit"]).status == 0)
  }

  /// Long setup names and GPU names are shown whole, in aligned columns.
  @Test func compareCutsNoHeaderOrName() throws {
    let gpus = ["apple-m2-ultra-192gb", "rtx-4060-ti-16gb", "rtx-4070-ti-super"]
    let byGPU = try BinaryRunner.run(["compare", "qwen3-8b", "--gpu", gpus.joined(separator: ","), "--quant", "none"])
    let header = try #require(byGPU.standardOutput.split(separator: "\n").first { $0.contains("rtx-4060") })
    #expect(header.split(separator: " ").map(String.init) == gpus)
    let bySetup = try BinaryRunner.run([
      "compare", "qwen3-8b", "--gpu", "apple-m2-ultra-192gb,rtx-4070-ti-super", "--setups",
      "qlora+paged-adamw-8bit,lora-16bit",
    ])
    let lines = bySetup.standardOutput.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let top = try #require(lines.firstIndex { $0.contains("lora-16bit") && !$0.hasPrefix("-") })
    #expect(lines[top].split(separator: " ").map(String.init) == ["qlora+paged-adamw-8bit", "lora-16bit"])
    #expect(lines.contains { $0.hasPrefix("Verdict apple-m2-ultra-192gb ") })
    #expect(lines.contains { $0.hasPrefix("Verdict rtx-4070-ti-super ") })
    // Every row of the table is as wide as its rule.
    let rule = lines[top + 1]
    for line in lines[(top + 2)...].prefix(while: { !$0.isEmpty }) { #expect(line.count == rule.count, "\(line)") }
  }

  /// Colour only on a terminal with colour: not for TERM=dumb, NO_COLOR, no TERM or no tty.
  @Test func colourNeedsATerminalThatHasIt() {
    #expect(CommandContext.usesColor(isTerminal: true, environment: ["TERM": "xterm-256color"]))
    #expect(!CommandContext.usesColor(isTerminal: true, environment: ["TERM": "dumb"]))
    #expect(!CommandContext.usesColor(isTerminal: true, environment: ["TERM": "xterm", "NO_COLOR": "1"]))
    #expect(!CommandContext.usesColor(isTerminal: true, environment: [:]))
    #expect(!CommandContext.usesColor(isTerminal: false, environment: ["TERM": "xterm"]))
  }

  /// A model folder whose name holds an escape sequence is printed escaped, never raw.
  @Test func controlCharactersInAFolderNameAreEscaped() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "edges-\u{1B}[31mred-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = DocsTests.packageRoot.appendingPathComponent("Presets/models/qwen3-8b.json")
    try FileManager.default.copyItem(at: config, to: folder.appendingPathComponent("config.json"))
    for command in [
      ["fit", folder.path, "--gpu", "a100-80gb"], ["compare", folder.path, "--gpu", "a100-80gb"],
      ["solve", folder.path, "--gpu", "a100-80gb", "--find", "rank"],
    ] {
      let result = try BinaryRunner.run(command)
      #expect(!result.standardOutput.contains("\u{1B}") && !result.standardError.contains("\u{1B}"), "\(command[0])")
      #expect(result.standardOutput.contains("\\u{1b}[31mred"), "\(command[0])")
    }
  }

  /// A GPU preset (from --presets) whose display name holds an escape sequence: escaped in the
  /// breakdown and in the warnings.
  @Test func controlCharactersInAPresetAreEscaped() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("edges-presets-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    try FileManager.default.copyItem(at: DocsTests.packageRoot.appendingPathComponent("Presets"), to: root)
    let t4 = root.appendingPathComponent("gpus/t4.json")
    let text = try String(contentsOf: t4, encoding: .utf8)
      .replacingOccurrences(of: "\"display_name\": \"", with: "\"display_name\": \"\\u001b[31m")
    try Data(text.utf8).write(to: t4)
    for command in [["fit", "qwen3-8b", "--gpu", "t4"], ["solve", "qwen3-8b", "--gpu", "t4", "--find", "rank"]] {
      let result = try BinaryRunner.run(["--presets", root.path] + command)
      #expect(result.standardOutput.contains("\\u{1b}[31m"), "\(command[0])")
      #expect(!result.standardOutput.contains("\u{1B}") && !result.standardError.contains("\u{1B}"), "\(command[0])")
    }
  }

  /// `--presets` without a value, twice, or empty is refused by name (exit 64), not read as an
  /// unknown option or command, nor as the current folder.
  @Test func presetsFolderIsGivenOnceWithAValue() throws {
    let presets = DocsTests.packageRoot.appendingPathComponent("Presets").path
    for (arguments, message) in [
      (["fit", "qwen3-0.6b", "--gpu", "l4", "--presets"], "Error: Missing value for '--presets <dir>'."),
      (
        ["--presets", presets, "--presets", presets, "presets", "gpus"],
        "Error: The option '--presets' is given more than once."
      ),
      (
        ["--presets", "", "presets", "gpus"],
        "Error: The value '' is invalid for '--presets': give a folder laid out like Presets/"
      ),
    ] {
      let result = try BinaryRunner.run(arguments)
      #expect(result.status == 64, "\(arguments)")
      #expect(result.standardError.hasPrefix(message + "\n"), "\(result.standardError)")
      #expect(result.standardOutput.isEmpty)
    }
    let after = try BinaryRunner.run(["presets", "gpus", "--presets", presets])
    #expect(after.status == 0 && after.standardOutput.contains("rtx-4090"))
  }

  /// Hardware advice follows the vendor: no Ampere or bitsandbytes key for an Apple GPU.
  @Test func appleGPUsGetAppleAdvice() throws {
    let apple = try BinaryRunner.run(["fit", "qwen3-8b", "--gpu", "apple-m1-max-32gb"])
    let bf16 = try #require(apple.standardError.split(separator: "\n").first { $0.contains("bf16") })
    #expect(!bf16.contains("Ampere") && !bf16.contains("bnb_4bit_compute_dtype"))
    let t4 = try BinaryRunner.run(["fit", "qwen3-8b", "--gpu", "t4"])
    #expect(t4.standardError.contains("Ampere"))
  }

  /// transformers' spelling of the attention is read; a preset's number suggests the preset.
  @Test func hfSpellingsAndPresetNumbersAreUnderstood() throws {
    let flash = try BinaryRunner.json(
      try BinaryRunner.run(["fit", "qwen3-8b", "--gpu", "a100-80gb", "--attn", "flash_attention_2", "--json"]))
    #expect((flash["setup"] as? [String: Any])?["attn"] as? String == "flash")
    let gpu = try BinaryRunner.run(["fit", "qwen3-8b", "--gpu", "4090"])
    #expect(gpu.status == 64 && gpu.standardError.contains("did you mean 'rtx-4090'?"))
  }

  @Test func anEmptyModelArgumentIsNamed() throws {
    let result = try BinaryRunner.run(["fit", "", "--gpu", "t4"])
    #expect(result.status == 64)
    #expect(result.standardError.contains("'<model>' is empty") && !result.standardError.contains("''"))
  }

  /// `inspect --tensors`: every name is shown whole, in a column as wide as the longest.
  @Test func inspectTensorNamesKeepTheirColumn() throws {
    let (input, output) = (EngineCommandTests.temporaryURL(), EngineCommandTests.temporaryURL())
    defer { [input, output].forEach { try? FileManager.default.removeItem(at: $0) } }
    try EngineCommandTests.writeModel(to: input)
    #expect(try BinaryRunner.run(["quantize", input.path, output.path]).status == 0)
    let text = try BinaryRunner.run(["inspect", output.path, "--tensors"]).standardOutput
    let rows = text.split(separator: "\n").filter { $0.hasPrefix("model.") || $0.hasPrefix("lm_head.") }
    #expect(!rows.isEmpty)
    let stateName = "model.layers.0.self_attn.q_proj.weight.quant_state.bitsandbytes__nf4"
    let state = try #require(rows.first { $0.hasPrefix(stateName) })
    #expect(state.dropFirst(stateName.count).hasPrefix(" "))
    // The role column starts at the same place on every row.
    let starts = Set(
      rows.map { row -> Int in
        let roles = ["4-bit packed", "quant state", "embedding", "lm_head", "norm", "other"]
        return roles.compactMap { row.range(of: " " + $0 + " ")?.lowerBound.utf16Offset(in: row) }.min() ?? -1
      })
    #expect(starts.count == 1)
    #expect(text.components(separatedBy: "bits per parameter").count == 2)
  }
}

/// Usage lines and docs/cli.md name what the commands take and print.
@Suite struct UsageAndDocsEdgesTests {
  /// A usage line that lists options lists all of them; the others end in `[options]`.
  @Test func everyUsageLineNamesEveryOptionOrSaysOptions() {
    for command in CommandTable.all where !command.options.isEmpty {
      let usage = HelpText.usageLine(command)
      guard !usage.hasSuffix("[options]") else { continue }
      for option in command.options { #expect(usage.contains(option.name), "\(command.name): \(option.name)") }
    }
  }

  /// docs/cli.md's `nf4_bytes` keys are the ones quantize-check writes.
  @Test func cliNamesQuantizeChecksKeys() throws {
    let result = try BinaryRunner.run(["quantize-check", "--shape", "16x256", "--seed", "3", "--json"])
    let written = Set(try #require(try BinaryRunner.json(result)["nf4_bytes"] as? [String: Any]).keys)
    let text = try DocsTests.read("docs/cli.md")
    let start = try #require(text.range(of: "\"nf4_bytes\": {"))
    let end = try #require(text.range(of: "}", range: start.upperBound..<text.endIndex))
    let named = Set(
      text[start.upperBound..<end.lowerBound].split(separator: ",").map {
        $0.trimmingCharacters(in: .whitespacesAndNewlines)
      })
    #expect(named == written)
  }
}

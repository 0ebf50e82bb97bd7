import Foundation
import QLoRABudget
import Testing

#if canImport(FoundationXML)
  import FoundationXML
  import QLoRABudgetInputs
#endif

/// `solve`, `compare`, `table` and the SVG charts, through the real binary. Expected numbers
/// come from the library's estimator called here, never from the command under test.
@Suite struct PlanningCommandTests {
  static let presets = PresetCatalog.bundled
  static let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// The verdict rule written out here, on the library estimator's process peak (not through
  /// the command under test): over the capacity does not fit unless the run completes within it
  /// once the allocator releases its cache (then tight); within the margin it is tight.
  static func verdict(_ model: String, _ gpu: String, _ change: (inout TrainingSetup) -> Void) throws -> String {
    var setup = TrainingSetup()
    change(&setup)
    let gpu = try presets.gpu(named: gpu)
    let estimate = try MemoryEstimator.estimate(model: try presets.model(named: model), setup: setup, gpu: gpu)
    let process = estimate.peak.process.bytes
    // The CUDA context's uncertainty: 82 MiB on an Ampere GPU other than the RTX 3090 it was
    // published for (3.148 MiB per SM x (108 - 82) SMs, rounded up), none on Ada Lovelace.
    let allowance: Double = gpu.architecture == .ampere && gpu.name != "rtx-3090" ? 82 * 1_048_576 : 0
    if process > gpu.capacity.bytes {
      let context = estimate.peak.process - estimate.peak.reserved
      guard let completing = estimate.reserve?.completingPeakReserved else { return "does_not_fit" }
      return (completing + context) <= gpu.capacity ? "tight" : "does_not_fit"
    }
    if (Double(process) * (1 + (setup.usesEngine ? VerdictMargin.measuredUnderEngine : .measured).relative)).rounded(
      .up) + allowance > Double(gpu.capacity.bytes)
    {
      return "tight"
    }
    return "fits"
  }

  @Test(arguments: [
    ("qwen3-14b", "rtx-4090"), ("llama-3.1-8b", "l4"), ("mistral-7b-v0.3", "l4"), ("llama-65b", "rtx-a6000"),
  ])
  func solveRankIsExactAtBothBoundaries(model: String, gpu: String) throws {
    let result = try BinaryRunner.run(["solve", model, "--gpu", gpu, "--find", "rank", "--json"])
    #expect(result.status == 0)
    #expect(result.standardError.isEmpty)
    let json = try BinaryRunner.json(result)
    let rank = try #require((json["largest"] as? [String: Any])?["rank"] as? [String: Any])
    if let fits = (rank["fits"] as? [String: Any])?["value"] as? Int64 {
      #expect(try Self.verdict(model, gpu) { $0.lora.rank = fits } == "fits")
      #expect(try Self.verdict(model, gpu) { $0.lora.rank = fits + 1 } != "fits")
    }
    let tight = try #require((rank["tight"] as? [String: Any])?["value"] as? Int64)
    #expect(try Self.verdict(model, gpu) { $0.lora.rank = tight } != "does_not_fit")
    #expect(try Self.verdict(model, gpu) { $0.lora.rank = tight + 1 } == "does_not_fit")
    // The holes below the answers (PlannerExactnessTests checks them value by value): each run's
    // ends have its verdict.
    #expect(rank["exhaustive"] is Bool)
    for hole in try #require(rank["holes"] as? [[String: Any]]) {
      for end in ["from", "to"] {
        let value = try #require(hole[end] as? Int64)
        #expect(try Self.verdict(model, gpu) { $0.lora.rank = value } == hole["verdict"] as? String, "rank \(value)")
      }
    }
  }

  @Test func solveSmallestGPUNeverNamesOneBelowThePeakOrOneThatCannotRunIt() throws {
    let result = try BinaryRunner.run(["solve", "qwen3-32b", "--find", "gpu", "--rank", "64", "--json"])
    #expect(result.status == 0)
    let found = try #require(try BinaryRunner.json(result)["smallest_gpu"] as? [String: Any])
    for (key, accepted) in [("fits", ["fits"]), ("tight", ["fits", "tight"])] {
      let entry = try #require(found[key] as? [String: Any])
      let name = try #require(entry["gpu"] as? String)
      #expect(accepted.contains(entry["verdict"] as? String ?? ""))
      #expect(accepted.contains(try Self.verdict("qwen3-32b", name) { $0.lora.rank = 64 }))
      #expect((entry["bytes"] as? Int64 ?? .max) <= (entry["capacity_bytes"] as? Int64 ?? 0))
      let chosen = try Self.presets.gpu(named: name)
      // NF4 in bf16 needs bitsandbytes and bf16: Apple's presets and pre-Ampere cards are not candidates.
      #expect(chosen.runsBitsandbytes && chosen.supportsBFloat16)
      for gpu in try Self.presets.allGPUs()
      where gpu.runsBitsandbytes && gpu.supportsBFloat16 && (gpu.capacity, gpu.name) < (chosen.capacity, chosen.name) {
        #expect(!accepted.contains(try Self.verdict("qwen3-32b", gpu.name) { $0.lora.rank = 64 }), "\(gpu.name)")
      }
    }
  }

  @Test func solveChangesEachFit() throws {
    let result = try BinaryRunner.run(
      ["solve", "qwen3-8b", "--gpu", "rtx-4090", "--find", "changes", "--rank", "64", "--batch", "4", "--json"])
    #expect(result.status == 0)
    let json = try BinaryRunner.json(result)
    #expect((json["as_given"] as? [String: Any])?["verdict"] as? String == "does_not_fit")
    let changes = try #require(json["changes"] as? [[String: Any]])
    #expect(changes.count >= 2)
    for change in changes {
      // The change's own flags over the question's: `fit` with them says `fits`.
      let option = try #require(change["option"] as? String)
      #expect(option.hasPrefix("--"))
      var flags = ["--rank": "64", "--batch": "4"]
      let words = option.split(separator: " ").map(String.init)
      for (index, word) in words.enumerated() where word.hasPrefix("--") {
        flags[word] = index + 1 < words.count && !words[index + 1].hasPrefix("--") ? words[index + 1] : ""
      }
      let arguments = flags.sorted { $0.key < $1.key }.flatMap { $0.value.isEmpty ? [$0.key] : [$0.key, $0.value] }
      let fit = try BinaryRunner.json(
        try BinaryRunner.run(["fit", "qwen3-8b", "--gpu", "rtx-4090", "--json"] + arguments))
      #expect(fit["verdict"] as? String == "fits", "\(option)")
    }
    let costs = changes.compactMap { $0["cost"] as? String }
    let order = FitChange.Cost.allCases.map { String(describing: $0) }
    let positions = costs.compactMap { order.firstIndex(of: $0) }
    #expect(positions == positions.sorted())
  }

  @Test func solveTextFitsEightyColumnsAndDrawsTheRankChartWithItsBand() throws {
    let svg = FileManager.default.temporaryDirectory.appendingPathComponent("qb-solve-\(UUID().uuidString).svg")
    defer { try? FileManager.default.removeItem(at: svg) }
    let result = try BinaryRunner.run(
      ["solve", "qwen3-8b", "--gpu", "rtx-4090", "--rank", "64", "--batch", "4", "--svg", svg.path])
    #expect(result.status == 0)
    #expect(result.standardOutput.contains("Largest LoRA rank that fits"))
    #expect(result.standardOutput.contains("may fit (tight)"))
    #expect(result.standardOutput.contains("Single changes that make it fit"))
    #expect(result.standardOutput.split(separator: "\n").allSatisfy { $0.count <= 80 })
    let document = try SVGDocument(contentsOf: svg)
    #expect(document.count(of: "polyline") == 1)
    #expect(document.count(of: "line", class: "capacity") == 1)
    #expect(document.count(of: "rect", class: "tight-band") == 1)
    #expect(document.count(of: "circle") >= 20)
  }

  @Test func fitExitCodesDistinguishTheThreeVerdicts() throws {
    for rank in ["8", "32", "100"] {
      let result = try BinaryRunner.run(["fit", "qwen3-14b", "--gpu", "rtx-4090", "--rank", rank, "--json"])
      let expected = try Self.verdict("qwen3-14b", "rtx-4090") { $0.lora.rank = Int64(rank)! }
      #expect(try BinaryRunner.json(result)["verdict"] as? String == expected)
      #expect(result.status == ["fits": 0, "tight": 2, "does_not_fit": 3][expected], "rank \(rank)")
    }
    let over = try BinaryRunner.run(["fit", "qwen3-14b", "--gpu", "rtx-4090", "--rank", "100"])
    #expect(over.status == 3)
    #expect(over.standardOutput.contains("DOES NOT FIT"))
  }

  @Test(arguments: [
    (["solve", "qwen3-14b", "--find", "rank"], "Missing '--gpu"),
    (["solve", "qwen3-14b", "--gpu", "rtx-4090", "--fnd", "rank"], "Did you mean '--find'?"),
    (["solve", "qwen3-14b", "--gpu", "rtx-4090", "--find", "rnak"], "Did you mean 'rank'?"),
    (["solve", "qwen3-14c", "--gpu", "rtx-4090"], "did you mean 'qwen3-14b'"),
    (["solve", "qwen3-14b", "--gpu", "rtx-4900"], "did you mean 'rtx-4090'"),
    (["fit", "qwen3-14b", "--gpu", "rtx-4090", "--optimizer", "adamw8"], "'--optimizer'"),
    (["fit", "qwen3-14b", "--gpu", "rtx-4090", "--blocksize", "100"], "'--blocksize'"),
    (["compare", "qwen3-14b"], "Missing '--gpu"),
    (["compare", "qwen3-14b", "--gpu", "t4", "--setups", "qlora,lora-16bt"], "Did you mean 'lora-16bit'?"),
    (["compare", "qwen3-14b", "--gpu", "t4,a100-8gb"], "did you mean 'a100-80gb'"),
    (["table", "--models", "qwen3-8b"], "Missing '--gpu"),
    (["table", "--models", "qwen3-8b", "--gpu", "t4", "--ranks", "8,x"], "--ranks"),
    (["table", "--models", "qwen3-8b", "--gpu", "t4", "--format", "markdwn"], "Did you mean 'markdown'?"),
    (["completions", "tcsh"], "bash, zsh, fish"),
  ])
  func usageErrorsExitWith64(_ arguments: [String], _ expected: String) throws {
    let result = try BinaryRunner.run(arguments)
    #expect(result.status == 64)
    #expect(result.standardOutput.isEmpty)
    #expect(result.standardError.hasPrefix("Error: "))
    #expect(result.standardError.contains(expected), "\(result.standardError)")
  }

  @Test func compareSetupsMatchTheEstimator() throws {
    let svg = FileManager.default.temporaryDirectory.appendingPathComponent("qb-compare-\(UUID().uuidString).svg")
    defer { try? FileManager.default.removeItem(at: svg) }
    let arguments = [
      "compare", "llama-65b", "--gpu", "rtx-a6000,a100-80gb", "--setups", "qlora+paged-adamw,lora-16bit,full-finetune",
      "--rank", "64", "--seq-len", "512",
    ]
    let text = try BinaryRunner.run(arguments + ["--svg", svg.path])
    #expect(text.status == 0)
    #expect(text.standardOutput.split(separator: "\n").allSatisfy { $0.count <= 80 })
    let json = try BinaryRunner.json(try BinaryRunner.run(arguments + ["--json"]))
    let columns = try #require(json["columns"] as? [[String: Any]])
    #expect(columns.map { $0["label"] as? String } == ["qlora+paged-adamw", "lora-16bit", "full-finetune"])
    let changes: [(inout TrainingSetup) -> Void] = [
      { $0.optimizer = .pagedAdamw }, { $0.quantization = .none }, { $0.isFullFineTune = true },
    ]
    for (column, change) in zip(columns, changes) {
      let gpus = try #require(column["gpus"] as? [[String: Any]])
      #expect(gpus.count == 2)
      for entry in gpus {
        let gpuName = try #require(entry["gpu"] as? String)
        let expected = try Self.verdict("llama-65b", gpuName) {
          change(&$0)
          $0.lora.rank = 64
          $0.sequenceLength = 512
        }
        #expect(entry["verdict"] as? String == expected, "\(column["label"] ?? "") on \(gpuName)")
      }
    }
    // The seeds' claim: QLoRA on one 48 GB card at 512 tokens; 16-bit LoRA and full fine-tuning need several 80 GB cards.
    let needed = columns.map {
      ((($0["gpus"] as? [[String: Any]])?[1]["fewest_gpus_without_offload"] as? [String: Any])?["count"] as? Int64) ?? 0
    }
    #expect(needed[0] == 1)
    #expect(needed[1] >= 2)
    #expect(needed[2] > needed[1])
    let document = try SVGDocument(contentsOf: svg)
    #expect(document.count(of: "line", class: "capacity") == 2)
    #expect(document.count(of: "rect", class: "tight-band") == 2)
  }

  @Test func compareOneSetupOnSeveralGPUs() throws {
    let result = try BinaryRunner.run(["compare", "qwen3-8b", "--gpu", "t4,rtx-4090,24GB"])
    #expect(result.status == 0)
    let header = try #require(result.standardOutput.split(separator: "\n").first { $0.contains("rtx-4090") })
    #expect(header.contains("t4") && header.contains("24GB"))
  }

  @Test func tableJSONGivesEachCellTheVerdictFitGives() throws {
    let result = try BinaryRunner.run([
      "table", "--models", "qwen3-8b,llama-2-13b", "--ranks", "8,64,512", "--seq-lens", "1024,4096", "--gpu",
      "l4,rtx-4090",
      "--json",
    ])
    #expect(result.status == 0)
    let rows = try #require(try BinaryRunner.json(result)["rows"] as? [[String: Any]])
    #expect(rows.count == 2 * 3 * 2)
    for row in rows {
      let rank = try #require(row["rank"] as? Int64)
      let length = try #require(row["seq_len"] as? Int64)
      let modelName = try #require(row["model"] as? String)
      let cells = try #require(row["gpus"] as? [[String: Any]])
      for cell in cells {
        let gpuName = try #require(cell["gpu"] as? String)
        let fit = try BinaryRunner.run(
          ["fit", modelName, "--gpu", gpuName, "--rank", String(rank), "--seq-len", String(length), "--json"])
        let fitJSON = try BinaryRunner.json(fit)
        #expect(
          cell["verdict"] as? String == fitJSON["verdict"] as? String, "\(modelName) r\(rank) s\(length) \(gpuName)")
        #expect(cell["bytes"] as? Int64 == fitJSON["peak_process_bytes"] as? Int64)
      }
    }
  }

  @Test func tableMarkdownAndCSVParse() throws {
    let arguments = [
      "table", "--models", "qwen3-4b,qwen3-14b", "--ranks", "16,256", "--gpu", "t4,rtx-4090", "--dtype", "fp16",
    ]
    let markdown = try BinaryRunner.run(arguments)
    #expect(markdown.status == 0)
    let tableLines = markdown.standardOutput.split(separator: "\n").filter { $0.hasPrefix("|") }
    #expect(tableLines.count == 2 + 4)
    let cellCounts = Set(tableLines.map { $0.split(separator: "|", omittingEmptySubsequences: false).count })
    #expect(cellCounts == [3 + 2 + 2])
    #expect(tableLines[1].allSatisfy { "|-: ".contains($0) })
    for line in tableLines.dropFirst(2) {
      let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
      let rank = try #require(Int64(cells[1]))
      for (cell, gpuName) in zip(cells[3...], ["t4", "rtx-4090"]) {
        let expected = try Self.verdict(cells[0], gpuName) {
          $0.lora.rank = rank
          $0.computeDtype = .fp16
        }
        #expect(cell.hasSuffix(" " + expected.replacingOccurrences(of: "_", with: " ")), "\(cell)")
      }
    }
    let csv = try BinaryRunner.run(arguments + ["--format", "csv"])
    let lines = csv.standardOutput.split(separator: "\n")
    #expect(lines.count == 5)
    #expect(Set(lines.map { $0.split(separator: ",").count }) == [7])
  }

  @Test func tableSVGDrawsEveryModelOnEveryGPU() throws {
    let svg = FileManager.default.temporaryDirectory.appendingPathComponent("qb-table-\(UUID().uuidString).svg")
    defer { try? FileManager.default.removeItem(at: svg) }
    let result = try BinaryRunner.run([
      "table", "--models", "qwen3-4b,qwen3-8b,qwen3-14b", "--ranks", "8,16,32", "--gpu", "rtx-4090,a100-80gb", "--svg",
      svg.path,
    ])
    #expect(result.status == 0)
    let document = try SVGDocument(contentsOf: svg)
    #expect(document.count(of: "polyline") == 3 * 2)
    #expect(document.count(of: "line", class: "capacity") == 2)
  }

  /// docs/tables/ is what docs/tables/regenerate.sh writes today.
  @Test func docsTablesHaveNotDrifted() throws {
    let folder = Self.packageRoot.appendingPathComponent("docs/tables")
    let manifest = try String(contentsOf: folder.appendingPathComponent("tables.txt"), encoding: .utf8)
    var checked = 0
    for line in manifest.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
      let words = line.split(separator: " ").map(String.init)
      let result = try BinaryRunner.run(["table"] + words.dropFirst())
      #expect(result.status == 0)
      let file = try String(contentsOf: folder.appendingPathComponent(words[0]), encoding: .utf8)
      #expect(file == result.standardOutput, "docs/tables/\(words[0]) is stale: run docs/tables/regenerate.sh")
      checked += 1
    }
    #expect(checked >= 3)
  }

  @Test func fitSVGAndHostMemory() throws {
    let svg = FileManager.default.temporaryDirectory.appendingPathComponent("qb-fit-\(UUID().uuidString).svg")
    defer { try? FileManager.default.removeItem(at: svg) }
    let arguments = ["fit", "qwen3-14b", "--gpu", "rtx-4090", "--optimizer", "paged-adamw", "--rank", "256"]
    let result = try BinaryRunner.run(arguments + ["--host-memory", "8GiB", "--svg", svg.path, "--json"])
    let json = try BinaryRunner.json(result)
    let host = try #require(json["host"] as? [String: Any])
    var setup = TrainingSetup()
    setup.optimizer = .pagedAdamw
    setup.lora.rank = 256
    let estimate = try MemoryEstimator.estimate(
      model: try Self.presets.model(named: "qwen3-14b"), setup: setup, gpu: try Self.presets.gpu(named: "rtx-4090"))
    #expect(json["peak_process_bytes"] as? Int64 == estimate.peak.process.bytes)
    let paged = estimate.hostBytes.bytes
    let baseline: Int64 = 3 << 30
    let shard: Int64 = 5_000_000_000
    #expect(host["paged_optimizer_bytes"] as? Int64 == paged)
    #expect(host["peak_bytes"] as? Int64 == baseline + max(paged, shard))
    let enough = baseline + max(paged, shard) <= 8 << 30
    #expect(host["fits"] as? Bool == enough)
    let verdictStatus = ["fits": Int32(0), "tight": 2, "does_not_fit": 3][json["verdict"] as? String ?? ""]
    #expect(result.status == (enough ? verdictStatus : 3))
    let roomy = try BinaryRunner.run(arguments + ["--host-memory", "1TiB"])
    #expect(roomy.standardOutput.contains("Host RAM 1.00 TiB: enough"))
    // The bar is the process peak the text prints: its parts' titles sum to it, to the byte.
    let document = try SVGDocument(contentsOf: svg)
    #expect(document.count(of: "rect", class: "segment") == estimate.peakParts.count)
    #expect(ByteCount.sum(estimate.peakParts.map(\.bytes)) == estimate.peak.process)
    #expect(document.count(of: "line", class: "capacity") == 1)
  }

  /// A peak above the capacity is accepted as tight only because the run completes once the
  /// allocator releases its cache; wherever solve shows such a peak ("22.20 GiB
  /// of 22.05 GiB"), it says so, as fit does. Qwen3-14B r=32 on an L4: 23,840,423,936 B against
  /// the L4's 23,675,797,504 B (Presets/gpus/l4.json).
  @Test func aTightPeakOverTheCapacitySaysWhereItCompletes() throws {
    let setup = ["qwen3-14b", "--rank", "32"]
    let json = try BinaryRunner.json(
      try BinaryRunner.run(["solve"] + setup + ["--gpu", "l4", "--find", "gpu", "--json"]))
    let asGiven = try #require(json["as_given"] as? [String: Any])
    #expect(asGiven["verdict"] as? String == "tight")
    #expect((asGiven["bytes"] as? Int64 ?? 0) > 23_675_797_504)
    let completing = try #require(asGiven["completing_process_peak_bytes"] as? Int64)
    let note =
      "    over as simulated; completes at about \(ByteCount(completing).formatted(.binary)) with the cache released"
    let tightGPU = try #require((json["smallest_gpu"] as? [String: Any])?["tight"] as? [String: Any])
    #expect(tightGPU["gpu"] as? String == "l4")
    let lines = try BinaryRunner.run(["solve"] + setup + ["--gpu", "l4", "--find", "gpu"]).standardOutput
      .components(separatedBy: "\n")
    for shown in ["As given: ", "  may fit (tight)   "] {
      let index = try #require(lines.firstIndex { $0.hasPrefix(shown) }, "\(shown)")
      #expect(lines[index + 1] == note, "the line under '\(lines[index])'")
    }
  }

  /// `--host-memory` is one machine's RAM, and a machine runs one process per GPU it holds: the
  /// Answer.AI run (two GPUs, one machine, FSDP CPU offload; "roughly 55GB of CPU RAM") needs two
  /// processes' worth, so 40 GiB is not enough though one process needs less.
  @Test func hostMemoryCountsEveryGPUProcessOnTheMachine() throws {
    let arguments = [
      "fit", "llama-2-70b", "--gpu", "rtx-4090", "--gpus", "2", "--offload", "params", "--recipe", "qlora-paper",
      "--rank", "64", "--seq-len", "2048", "--batch", "2", "--host-memory", "40GiB",
    ]
    let result = try BinaryRunner.run(arguments + ["--json"])
    let host = try #require(try BinaryRunner.json(result)["host"] as? [String: Any])
    let perProcess = try #require(host["peak_bytes"] as? Int64)
    #expect(perProcess < 40 << 30)
    #expect(host["processes_per_machine"] as? Int64 == 2)
    #expect(host["per_machine_bytes"] as? Int64 == 2 * perProcess)
    #expect(2 * perProcess > 40 << 30)
    #expect(host["fits"] as? Bool == false)
    #expect(result.status == 3)
    let text = try BinaryRunner.run(arguments)
    #expect(text.standardOutput.contains("  per GPU process; x 2 on each machine = "))
    #expect(text.standardOutput.contains("Host RAM 40.00 GiB per machine: NOT ENOUGH"))
    // Two machines of one GPU each: each holds one process.
    let spread = try BinaryRunner.json(try BinaryRunner.run(arguments + ["--nodes", "2", "--json"]))
    let spreadHost = try #require(spread["host"] as? [String: Any])
    #expect(spreadHost["processes_per_machine"] as? Int64 == 1)
    #expect(spreadHost["per_machine_bytes"] as? Int64 == spreadHost["peak_bytes"] as? Int64)
  }

  @Test func svgRendersWithRsvgConvertWhenInstalled() throws {
    let converter = URL(fileURLWithPath: "/usr/bin/rsvg-convert")
    guard FileManager.default.isExecutableFile(atPath: converter.path) else { return }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qb-rsvg-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let svg = folder.appendingPathComponent("chart.svg")
    _ = try BinaryRunner.run(["compare", "qwen3-8b", "--gpu", "t4,rtx-4090", "--svg", svg.path])
    let png = folder.appendingPathComponent("chart.png")
    let result = try BinaryRunner.run(["-o", png.path, svg.path], executable: converter)
    #expect(result.status == 0)
    let data = try Data(contentsOf: png)
    #expect(data.starts(with: [0x89, 0x50, 0x4E, 0x47]))
  }

  @Test(arguments: ["solve", "compare", "table", "completions", "fit", "estimate", "presets"])
  func everyCommandHasHelpWithEveryOption(command: String) throws {
    let result = try BinaryRunner.run([command, "--help"])
    #expect(result.status == 0)
    #expect(result.standardOutput.hasPrefix("OVERVIEW: "))
    #expect(result.standardOutput.split(separator: "\n").allSatisfy { $0.count <= 80 })
    let viaHelp = try BinaryRunner.run(["help", command])
    #expect(viaHelp.standardOutput == result.standardOutput)
  }
}

/// The overview lists every command within 80 columns.
@Suite struct OverviewHelpTests {
  @Test func overviewFitsEightyColumnsAndListsEveryCommand() throws {
    let result = try BinaryRunner.run(["help"])
    #expect(result.status == 0)
    #expect(result.standardOutput.split(separator: "\n").allSatisfy { $0.count <= 80 })
    for command in ["fit", "estimate", "solve", "compare", "table", "completions", "presets"] {
      #expect(result.standardOutput.contains("  \(command) "), "\(command)")
    }
  }
}

/// A parsed SVG file: well-formed XML (the parser fails otherwise), with element counts.
struct SVGDocument {
  private final class Collector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    func parser(
      _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
      attributes: [String: String] = [:]
    ) {
      elements.append((name, attributes))
    }
  }

  let elements: [(name: String, attributes: [String: String])]

  init(contentsOf url: URL) throws {
    let parser = XMLParser(data: try Data(contentsOf: url))
    let collector = Collector()
    parser.delegate = collector
    let parsed = parser.parse()
    #expect(parsed, "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "")")
    #expect(collector.elements.first?.name == "svg")
    elements = collector.elements
  }

  func count(of name: String, class className: String? = nil) -> Int {
    elements.filter { $0.name == name && (className == nil || $0.attributes["class"] == className) }.count
  }
}

/// `qlora-budget completions SHELL`.
@Suite struct CompletionTests {
  @Test(arguments: ["bash", "zsh", "fish"])
  func scriptsNameEveryCommandOptionAndPreset(shell: String) throws {
    let result = try BinaryRunner.run(["completions", shell])
    #expect(result.status == 0)
    let script = result.standardOutput
    for command in ["fit", "estimate", "solve", "compare", "table", "presets", "completions"] {
      #expect(script.contains(command))
    }
    let spelling = shell == "fish" ? { (name: String) in "-l " + name.dropFirst(2) } : { (name: String) in name }
    for option in ["--rank", "--gpu", "--find", "--setups", "--ranks", "--seq-lens", "--host-memory", "--svg"] {
      #expect(script.contains(spelling(option)), "\(shell) \(option)")
    }
    for word in ["qwen3-14b", "rtx-4090", "paged-adamw-8bit", "qlora-paper"] {
      #expect(script.contains(word), "\(shell) \(word)")
    }
  }

  @Test func bashScriptIsValidBash() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("qb-completion-\(UUID().uuidString).bash")
    defer { try? FileManager.default.removeItem(at: file) }
    try Data(try BinaryRunner.run(["completions", "bash"]).standardOutput.utf8).write(to: file)
    let check = try BinaryRunner.run(["-n", file.path], executable: URL(fileURLWithPath: "/bin/bash"))
    #expect(check.status == 0, "\(check.standardError)")
  }
}

import Foundation
import Testing
import QLoRABudget
#if canImport(FoundationXML)
import FoundationXML
#endif

/// `solve`, `compare`, `table` and the SVG charts, through the real binary. Expected numbers
/// come from the library's estimator called here, never from the command under test.
@Suite struct PlanningCommandTests {
  static let presets = PresetCatalog.bundled
  static let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  static func residentFits(_ model: String, _ gpu: String, _ change: (inout TrainingSetup) -> Void) throws -> Bool {
    var setup = TrainingSetup()
    change(&setup)
    let gpu = try presets.gpu(named: gpu)
    let estimate = try MemoryEstimator.estimate(model: try presets.model(named: model), setup: setup, gpu: gpu)
    return estimate.residentBytes <= gpu.capacity
  }

  @Test(arguments: [("qwen3-14b", "rtx-4090"), ("llama-3.1-8b", "t4"), ("mistral-7b-v0.3", "l4"), ("llama-65b", "rtx-a6000")])
  func solveRankIsExactAtTheBoundary(model: String, gpu: String) throws {
    let result = try BinaryRunner.run(["solve", model, "--gpu", gpu, "--find", "rank", "--fit-by", "resident", "--json"])
    #expect(result.status == 0)
    // The default bf16 compute on a T4 (Turing, no bf16) is counted, with a warning.
    #expect(result.standardError.isEmpty == (gpu != "t4"))
    #expect(result.standardError.contains("no native bf16") == (gpu == "t4"))
    let json = try BinaryRunner.json(result)
    let largest = try #require(json["largest"] as? [String: Any])
    let rank = try #require((largest["rank"] as? [String: Any])?["value"] as? Int64)
    #expect(try Self.residentFits(model, gpu) { $0.lora.rank = rank })
    #expect(try !Self.residentFits(model, gpu) { $0.lora.rank = rank + 1 })
  }

  @Test func solveSmallestGPUIsTheFirstPresetThatFits() throws {
    let result = try BinaryRunner.run(["solve", "qwen3-32b", "--find", "gpu", "--fit-by", "resident", "--rank", "64", "--json"])
    #expect(result.status == 0)
    let found = try #require(try BinaryRunner.json(result)["smallest_gpu"] as? [String: Any])
    let name = try #require(found["name"] as? String)
    #expect(try Self.residentFits("qwen3-32b", name) { $0.lora.rank = 64 })
    let chosen = try Self.presets.gpu(named: name)
    #expect(chosen.runsBitsandbytes && chosen.supportsBFloat16)
    // An NF4 bf16 run needs bitsandbytes and bf16: Apple's unified-memory presets and the
    // GPUs before Ampere (T4, V100) are not candidates, whatever their capacity.
    for gpu in try Self.presets.allGPUs()
    where gpu.runsBitsandbytes && gpu.supportsBFloat16 && (gpu.capacity, gpu.name) < (chosen.capacity, chosen.name) {
      #expect(try !Self.residentFits("qwen3-32b", gpu.name) { $0.lora.rank = 64 }, "\(gpu.name)")
    }
  }

  @Test func solveChangesEachFit() throws {
    let result = try BinaryRunner.run(
      ["solve", "qwen3-14b", "--gpu", "rtx-4090", "--find", "changes", "--fit-by", "resident", "--rank", "400", "--json"])
    #expect(result.status == 0)
    let json = try BinaryRunner.json(result)
    #expect(json["fits"] as? Bool == false)
    let changes = try #require(json["changes"] as? [[String: Any]])
    #expect(changes.count >= 2)
    for change in changes {
      let setup = try #require(change["setup"] as? [String: Any])
      let rank = try #require(setup["rank"] as? Int64)
      let optimizerName = try #require(setup["optimizer"] as? String)
      let optimizer = try #require(Optimizer(rawValue: optimizerName))
      #expect(try Self.residentFits("qwen3-14b", "rtx-4090") {
        $0.lora.rank = rank
        $0.optimizer = optimizer
      }, "\(change["option"] ?? "")")
    }
    let costs = changes.compactMap { $0["cost"] as? String }
    let order = FitChange.Cost.allCases.map { String(describing: $0) }
    let positions = costs.compactMap { order.firstIndex(of: $0) }
    #expect(positions == positions.sorted())
  }

  @Test func solveTextFitsEightyColumnsAndDrawsTheRankChart() throws {
    let svg = FileManager.default.temporaryDirectory.appendingPathComponent("qb-solve-\(UUID().uuidString).svg")
    defer { try? FileManager.default.removeItem(at: svg) }
    let result = try BinaryRunner.run(
      ["solve", "qwen3-14b", "--gpu", "rtx-4090", "--fit-by", "resident", "--rank", "400", "--batch", "2", "--svg", svg.path])
    #expect(result.status == 0)
    #expect(result.standardOutput.contains("Largest LoRA rank"))
    #expect(result.standardOutput.contains("Single changes that make it fit"))
    #expect(result.standardOutput.split(separator: "\n").allSatisfy { $0.count <= 80 })
    let document = try SVGDocument(contentsOf: svg)
    #expect(document.count(of: "polyline") == 1)
    #expect(document.count(of: "line", class: "capacity") == 1)
    #expect(document.count(of: "circle") >= 20)
  }

  @Test(arguments: [
    (["solve", "qwen3-14b", "--find", "rank"], "Missing '--gpu"),
    (["solve", "qwen3-14b", "--gpu", "rtx-4090", "--fnd", "rank"], "Did you mean '--find'?"),
    (["solve", "qwen3-14b", "--gpu", "rtx-4090", "--find", "rnak"], "Did you mean 'rank'?"),
    (["solve", "qwen3-14c", "--gpu", "rtx-4090"], "did you mean 'qwen3-14b'"),
    (["solve", "qwen3-14b", "--gpu", "rtx-4900"], "did you mean 'rtx-4090'"),
    (["solve", "qwen3-14b", "--gpu", "rtx-4090", "--fit-by", "peek"], "Did you mean 'peak'?"),
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
      "--rank", "64", "--fit-by", "resident",
    ]
    let text = try BinaryRunner.run(arguments + ["--svg", svg.path])
    #expect(text.status == 0)
    #expect(text.standardOutput.split(separator: "\n").allSatisfy { $0.count <= 80 })
    let json = try BinaryRunner.json(try BinaryRunner.run(arguments + ["--json"]))
    let columns = try #require(json["columns"] as? [[String: Any]])
    #expect(columns.map { $0["label"] as? String } == ["qlora+paged-adamw", "lora-16bit", "full-finetune"])
    let model = try Self.presets.model(named: "llama-65b")
    var setups = [TrainingSetup(), TrainingSetup(), TrainingSetup()]
    setups[0].optimizer = .pagedAdamw
    setups[1].quantization = .none
    setups[2].isFullFineTune = true
    var segmentCount = 0
    for (column, var setup) in zip(columns, setups) {
      setup.lora.rank = 64
      let gpus = try #require(column["gpus"] as? [[String: Any]])
      #expect(gpus.count == 2)
      for entry in gpus {
        let gpuName = try #require(entry["name"] as? String)
        let gpu = try Self.presets.gpu(named: gpuName)
        let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
        #expect(entry["bytes"] as? Int64 == estimate.residentBytes.bytes)
        #expect(entry["fits"] as? Bool == (estimate.residentBytes <= gpu.capacity))
      }
      let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
      segmentCount += MemoryComponent.Kind.allCases.filter { (estimate.bytes(of: $0) ?? .zero) > .zero }.count
    }
    // The seeds' claim: QLoRA on one 48 GB card; 16-bit LoRA and full fine-tuning need several 80 GB cards.
    let needed = columns.map { (($0["gpus"] as? [[String: Any]])?[1]["fewest_gpus"] as? Int64) ?? 0 }
    #expect(needed[0] == 1)
    #expect(needed[1] >= 2)
    #expect(needed[2] > needed[1])
    let document = try SVGDocument(contentsOf: svg)
    #expect(document.count(of: "rect", class: "segment") == segmentCount)
    #expect(document.count(of: "line", class: "capacity") == 2)
  }

  @Test func compareOneSetupOnSeveralGPUs() throws {
    let result = try BinaryRunner.run(["compare", "qwen3-8b", "--gpu", "t4,rtx-4090,24GB", "--fit-by", "resident"])
    #expect(result.status == 0)
    let header = try #require(result.standardOutput.split(separator: "\n").first { $0.contains("rtx-4090") })
    #expect(header.contains("t4") && header.contains("24GB"))
  }

  @Test func tableJSONEqualsTheEstimateInEveryCell() throws {
    let result = try BinaryRunner.run([
      "table", "--models", "qwen3-8b,llama-2-13b", "--ranks", "8,64,512", "--seq-lens", "1024,4096", "--gpu", "t4,rtx-4090",
      "--fit-by", "resident", "--json",
    ])
    #expect(result.status == 0)
    let rows = try #require(try BinaryRunner.json(result)["rows"] as? [[String: Any]])
    #expect(rows.count == 2 * 3 * 2)
    for row in rows {
      var setup = TrainingSetup()
      setup.lora.rank = try #require(row["rank"] as? Int64)
      setup.sequenceLength = try #require(row["seq_len"] as? Int64)
      let modelName = try #require(row["model"] as? String)
      let model = try Self.presets.model(named: modelName)
      let cells = try #require(row["gpus"] as? [[String: Any]])
      for cell in cells {
        let gpuName = try #require(cell["name"] as? String)
        let gpu = try Self.presets.gpu(named: gpuName)
        let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
        #expect(cell["bytes"] as? Int64 == estimate.residentBytes.bytes)
        #expect(cell["fits"] as? Bool == (estimate.residentBytes <= gpu.capacity))
      }
    }
  }

  @Test func tableMarkdownAndCSVParse() throws {
    let arguments = ["table", "--models", "qwen3-4b,qwen3-14b", "--ranks", "16,256", "--gpu", "t4,rtx-4090", "--fit-by", "resident"]
    let markdown = try BinaryRunner.run(arguments)
    #expect(markdown.status == 0)
    let tableLines = markdown.standardOutput.split(separator: "\n").filter { $0.hasPrefix("|") }
    #expect(tableLines.count == 2 + 4)
    let cellCounts = Set(tableLines.map { $0.split(separator: "|", omittingEmptySubsequences: false).count })
    #expect(cellCounts == [3 + 2 + 2])
    #expect(tableLines[1].allSatisfy { "|-: ".contains($0) })
    for line in tableLines.dropFirst(2) {
      let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
      var setup = TrainingSetup()
      setup.lora.rank = try #require(Int64(cells[1]))
      let model = try Self.presets.model(named: cells[0])
      for (cell, gpuName) in zip(cells[3...], ["t4", "rtx-4090"]) {
        let gpu = try Self.presets.gpu(named: gpuName)
        let resident = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu).residentBytes
        let expected = ByteCount.fixed(resident.gibibytes, decimals: 2) + (resident <= gpu.capacity ? " fits" : " no")
        #expect(cell == expected)
      }
    }
    let csv = try BinaryRunner.run(arguments + ["--format", "csv"])
    let lines = csv.standardOutput.split(separator: "\n")
    #expect(lines.count == 5)
    #expect(Set(lines.map { $0.split(separator: ",").count }) == [7])
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
    let estimate = try MemoryEstimator.estimate(model: try Self.presets.model(named: "qwen3-14b"), setup: setup, gpu: nil)
    let paged = estimate.hostBytes.bytes
    let baseline: Int64 = 3 << 30
    let shard: Int64 = 5_000_000_000
    #expect(host["paged_optimizer_bytes"] as? Int64 == paged)
    #expect(host["peak_bytes"] as? Int64 == baseline + max(paged, shard))
    let enough = baseline + max(paged, shard) <= 8 << 30
    #expect(host["fits"] as? Bool == enough)
    #expect(result.status == (enough ? 0 : 3))
    let roomy = try BinaryRunner.run(arguments + ["--host-memory", "1TiB"])
    #expect(roomy.standardOutput.contains("Host RAM 1.00 TiB: enough"))
    let document = try SVGDocument(contentsOf: svg)
    let nonZero = MemoryComponent.Kind.allCases.filter { (estimate.bytes(of: $0) ?? .zero) > .zero }.count
    #expect(document.count(of: "rect", class: "segment") == nonZero)
    #expect(document.count(of: "line", class: "capacity") == 1)
  }

  @Test func svgRendersWithRsvgConvertWhenInstalled() throws {
    let converter = URL(fileURLWithPath: "/usr/bin/rsvg-convert")
    guard FileManager.default.isExecutableFile(atPath: converter.path) else { return }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qb-rsvg-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let svg = folder.appendingPathComponent("chart.svg")
    _ = try BinaryRunner.run(["compare", "qwen3-8b", "--gpu", "t4,rtx-4090", "--fit-by", "resident", "--svg", svg.path])
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
    for option in ["--rank", "--gpu", "--find", "--setups", "--ranks", "--seq-lens", "--fit-by", "--host-memory", "--svg"] {
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

import Foundation
import Testing

@testable import qlora_budget

/// Documentation that cannot drift from the tool: every runnable example in README.md and
/// docs/*.md is run against the built binary and must print what the document shows; the
/// option tables of docs/cli.md are generated from the option specs; its `--json` table names
/// exactly the keys the encoder writes.
///
/// After a change of output, regenerate every shown output and generated table with
///
///     QLORA_BUDGET_UPDATE_DOCS=1 swift test --filter DocsTests
///
/// and review the diff (docs/cli.md, "Examples that cannot drift").
@Suite struct DocsTests {
  static let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  static let updating = ProcessInfo.processInfo.environment["QLORA_BUDGET_UPDATE_DOCS"] != nil

  /// README.md and every docs/*.md, relative to the package root.
  static let documents: [String] = {
    let docs =
      (try? FileManager.default.contentsOfDirectory(atPath: packageRoot.appendingPathComponent("docs").path)) ?? []
    return ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
  }()

  static func read(_ path: String) throws -> String {
    try String(contentsOf: packageRoot.appendingPathComponent(path), encoding: .utf8)
  }

  /// Writes through a temporary file in the same folder, then renames it over the original.
  static func write(_ text: String, to path: String) throws {
    let url = packageRoot.appendingPathComponent(path)
    let temporary = url.deletingLastPathComponent().appendingPathComponent(
      ".\(url.lastPathComponent).\(UUID().uuidString)")
    try Data(text.utf8).write(to: temporary)
    // rename(2) replaces atomically; Foundation's replaceItemAt removes the original on Linux.
    guard rename(temporary.path, url.path) == 0 else {
      throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
    }
  }

  /// What a person sees in a terminal: warnings (stderr) first, then the result (stdout).
  static func run(_ arguments: [String]) throws -> String {
    let result = try BinaryRunner.run(arguments, currentDirectory: packageRoot)
    return result.standardError + result.standardOutput
  }

  @Test(arguments: documents)
  func everyRunnableExamplePrintsWhatTheDocumentShows(_ path: String) throws {
    let document = try RunnableDocs(text: try Self.read(path))
    var outputs: [String] = []
    for example in document.examples {
      let actual = try Self.run(example.arguments)
      outputs.append(actual)
      if !Self.updating {
        #expect(
          actual == example.expectedOutput,
          "\(path): '\(example.commandLine)' prints something else; see DocsTests to regenerate")
      }
    }
    if Self.updating {
      let updated = document.replacingOutputs(with: outputs)
      if updated != document.lines.joined(separator: "\n") { try Self.write(updated, to: path) }
    }
  }

  /// Every figure a document's prose takes from the tool (``ProseFigures``) is what the tool
  /// prints today.
  @Test(arguments: documents)
  func everyProseFigureIsWhatTheToolPrints(_ path: String) throws {
    let document = try ProseFigures(text: try Self.read(path))
    var outputs: [String: String] = [:]
    var shown: [String] = []
    for figure in document.figures {
      let key = figure.arguments.joined(separator: "\u{0}")
      let json =
        try outputs[key] ?? BinaryRunner.run(figure.arguments, currentDirectory: Self.packageRoot).standardOutput
      outputs[key] = json
      let actual = try ProseFigures.render(figure, json: json)
      shown.append(actual)
      if !Self.updating {
        #expect(
          actual == figure.shown, "\(path): the figure of '\(figure.arguments.joined(separator: " "))' is now \(actual)"
        )
      }
    }
    if Self.updating {
      let updated = document.replacing(with: shown)
      if updated != document.text { try Self.write(updated, to: path) }
    }
  }

  @Test func aProseFigureReadsItsKeyPath() throws {
    let text =
      "x <!-- figure: fit m --json | a.1.b gib -->1 GiB<!-- /figure --> and "
      + "<!-- figure: fit m --json | c count -->2<!-- /figure --> <!-- figure: fit m --json | a.1.b error-vs:1.5 -->0<!-- /figure -->"
    let document = try ProseFigures(text: text)
    #expect(document.figures.count == 3)
    #expect(document.figures[0].arguments == ["fit", "m", "--json"] && document.figures[0].keyPath == ["a", "1", "b"])
    let json = #"{"a": [0, {"b": 2147483648}], "c": 12345}"#
    let shown = try document.figures.map { try ProseFigures.render($0, json: json) }
    // 2^31 bytes = 2.00 GiB; (2.00 - 1.5) / 1.5 = +33.3%.
    #expect(shown == ["2.00 GiB", "12,345", "+33.3%"])
    #expect(document.replacing(with: shown).contains("-->2.00 GiB<!-- /figure --> and"))
  }

  /// The documents whose examples are the tool's showcase: a block losing its marker would
  /// silently stop being checked.
  @Test(arguments: ["README.md", "docs/examples.md", "docs/planning.md", "docs/cli.md"])
  func theShowcaseDocumentsHaveRunnableExamples(_ path: String) throws {
    #expect(try !RunnableDocs(text: Self.read(path)).examples.isEmpty)
  }

  // MARK: docs/cli.md's tables

  @Test func cliOptionTablesAreTheOptionSpecs() throws {
    let text = try Self.read("docs/cli.md")
    let regenerated = try GeneratedOptionTables.regenerate(text)
    #expect(regenerated.commands == ["fit", "validate"])
    if Self.updating {
      if regenerated.text != text { try Self.write(regenerated.text, to: "docs/cli.md") }
    } else {
      #expect(
        regenerated.text == text,
        "docs/cli.md's option tables differ from the option specs; see DocsTests to regenerate")
    }
  }

  /// The `--json` table lists the encoder's top-level keys in order, and the nested keys it
  /// names for `model`, `gpu` and `setup` are exactly the encoder's.
  @Test func cliJSONTableNamesTheEncodersKeys() throws {
    let result = try BinaryRunner.run(["fit", "qwen3-14b", "--gpu", "t4", "--json", "--host-memory", "64GB"])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
    let table = try JSONKeyTable(markdown: try Self.read("docs/cli.md"))
    let order = try Self.topLevelKeyOrder(result.standardOutput)
    #expect(table.keys == order)
    for nested in ["model", "gpu", "setup"] {
      let actual = Set(try #require(object[nested] as? [String: Any]).keys)
      #expect(table.namedKeys(of: nested) == actual, "the '\(nested)' row of docs/cli.md's JSON table")
    }
  }

  /// Top-level keys in the order the encoder writes them (a JSON object's order is lost by
  /// JSONSerialization): the pretty-printed object indents them by two spaces.
  static func topLevelKeyOrder(_ json: String) throws -> [String] {
    json.components(separatedBy: "\n").compactMap { line in
      guard line.hasPrefix("  \""), !line.hasPrefix("   ") else { return nil }
      return line.dropFirst(3).split(separator: "\"", maxSplits: 1).first.map(String.init)
    }
  }

  // MARK: the parser itself

  @Test func theParserFindsCommandsContinuationsAndOutputs() throws {
    let text = """
      prose
      ```
      $ qlora-budget not-run
      ```
      ```console
      $ qlora-budget fit m --gpu 'a b' \\
          --rank 8
      line 1
      line 2
      $ qlora-budget presets gpus
      ```
      """
    let document = try RunnableDocs(text: text)
    #expect(document.examples.count == 2)
    #expect(document.examples[0].arguments == ["fit", "m", "--gpu", "a b", "--rank", "8"])
    #expect(document.examples[0].expectedOutput == "line 1\nline 2\n")
    #expect(document.examples[1].arguments == ["presets", "gpus"])
    #expect(document.examples[1].expectedOutput == "")
    let replaced = try RunnableDocs(text: document.replacingOutputs(with: ["new\n", "x\ny\n"]))
    #expect(replaced.examples.map(\.expectedOutput) == ["new\n", "x\ny\n"])
    #expect(replaced.lines.first == "prose" && replaced.lines.last == "```")
    #expect(throws: RunnableDocs.SplitError.self) { try RunnableDocs.split("fit 'open") }
  }
}

/// The option tables of a Markdown file, each between
/// `<!-- options of COMMAND: generated from the option specs (DocsTests) -->` and
/// `<!-- end of options -->`, rendered from that command's ``OptionSpec``s.
enum GeneratedOptionTables {
  static let openingPrefix = "<!-- options of "
  static let openingSuffix = ": generated from the option specs (DocsTests) -->"
  static let closing = "<!-- end of options -->"

  struct MissingCommand: Error, CustomStringConvertible {
    let description: String
  }

  static func regenerate(_ text: String) throws -> (text: String, commands: [String]) {
    var output: [String] = []
    var commands: [String] = []
    var skipping = false
    for line in text.components(separatedBy: "\n") {
      if skipping {
        if line == closing {
          skipping = false
          output.append(line)
        }
        continue
      }
      output.append(line)
      guard line.hasPrefix(openingPrefix), line.hasSuffix(openingSuffix) else { continue }
      let name = String(line.dropFirst(openingPrefix.count).dropLast(openingSuffix.count))
      guard let command = CommandTable.command(named: name) else {
        throw MissingCommand(description: "docs name an unknown command '\(name)'")
      }
      commands.append(name)
      output += table(command.options)
      skipping = true
    }
    return (output.joined(separator: "\n"), commands)
  }

  static func table(_ options: [OptionSpec]) -> [String] {
    var rows = ["| option | values | default | meaning |", "| --- | --- | --- | --- |"]
    for option in options {
      let values: String
      switch option.kind {
      case .flag: values = "flag"
      case .value(let name): values = option.values.isEmpty ? "`<\(name)>`" : option.values.joined(separator: ", ")
      }
      let cells = ["`\(option.name)`", values, option.defaultValue ?? "", option.help]
      rows.append("| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |")
    }
    return rows
  }
}

/// docs/cli.md's `--json` table: the first table under "## The `--json` object", one row per
/// top-level key; a row's meaning names an object's keys in backticks.
struct JSONKeyTable {
  let rows: [(key: String, meaning: String)]

  struct NotFound: Error {}

  init(markdown: String) throws {
    let lines = markdown.components(separatedBy: "\n")
    guard let heading = lines.firstIndex(where: { $0.hasPrefix("## The `--json` object") }) else { throw NotFound() }
    var rows: [(String, String)] = []
    var inTable = false
    for line in lines[(heading + 1)...] {
      if line.hasPrefix("| ") {
        inTable = true
        let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        guard cells.count >= 3, cells[0].hasPrefix("`") else { continue }
        rows.append((cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`")), cells[2]))
      } else if inTable {
        break
      }
    }
    self.rows = rows
  }

  var keys: [String] { rows.map(\.key) }

  /// The backticked words of a row's meaning that look like keys (lowercase, digits, underscores):
  /// the object's keys.
  func namedKeys(of key: String) -> Set<String> {
    guard let meaning = rows.first(where: { $0.key == key })?.meaning else { return [] }
    let parts = meaning.components(separatedBy: "`")
    let keyCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789_")
    return Set(
      stride(from: 1, to: parts.count, by: 2).map { parts[$0] }.filter {
        !$0.isEmpty && $0.unicodeScalars.allSatisfy(keyCharacters.contains)
      })
  }
}

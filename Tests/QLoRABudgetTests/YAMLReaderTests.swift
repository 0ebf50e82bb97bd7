import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The YAML subset reader: what it reads (with lines), and what it refuses (with the line).
@Suite struct YAMLReaderTests {
  func parse(_ text: String) throws -> YAMLNode { try YAMLReader.parse(text) }

  /// The error a text gives; fails the test when it parses.
  func failure(_ text: String) -> YAMLError? {
    do {
      _ = try YAMLReader.parse(text)
      Issue.record("parsed, but should be refused: \(text)")
      return nil
    } catch {
      return error
    }
  }

  @Test func blockMappingsAndSequencesWithLines() throws {
    let node = try parse(
      """
      # a comment
      model:
        name: Qwen/Qwen3-14B   # trailing comment
        rank: 32
      targets:
        - q_proj
        - v_proj
      compact:
      - a
      - b
      items:
        - path: x
          type: alpaca
        - - nested
      empty:
      """)
    #expect(node["model"]?["name"]?.scalarText == "Qwen/Qwen3-14B")
    #expect(node["model"]?["rank"]?.integerValue == 32)
    #expect(node["model"]?["rank"]?.line == 4)
    #expect(node["targets"]?.elements?.map(\.scalarText) == ["q_proj", "v_proj"])
    #expect(node["targets"]?.elements?[1].line == 7)
    #expect(node["compact"]?.elements?.map(\.scalarText) == ["a", "b"])
    let items = try #require(node["items"]?.elements)
    #expect(items.count == 2)
    #expect(items[0]["path"]?.scalarText == "x" && items[0]["type"]?.scalarText == "alpaca")
    #expect(items[0]["type"]?.line == 13)
    #expect(items[1].elements?.first?.scalarText == "nested")
    #expect(node["empty"]?.isNull == true)
    #expect(node.entries?.map(\.key) == ["model", "targets", "compact", "items", "empty"])
    #expect(node.entries?.map(\.line) == [2, 5, 8, 11, 15])
  }

  @Test func scalarsKeepTheirTextAndTypesAreAskedFor() throws {
    let node = try parse(
      """
      a: 1.0e-4
      b: True
      c: "true"
      d: 'it''s'
      e: "tab\\tand \\u00e9 \\ud83d\\ude00"
      f: ~
      g: 1_000
      h: http://example.org/x#frag
      i: a#b
      """)
    #expect(node["a"]?.numberValue == 0.0001)
    #expect(node["b"]?.boolValue == true)
    #expect(node["c"]?.boolValue == nil && node["c"]?.scalarText == "true")
    #expect(node["d"]?.scalarText == "it's")
    #expect(node["e"]?.scalarText == "tab\tand \u{e9} \u{1F600}")
    #expect(node["f"]?.isNull == true)
    #expect(node["g"]?.integerValue == 1000)
    #expect(node["h"]?.scalarText == "http://example.org/x#frag")
    #expect(node["i"]?.scalarText == "a#b")
  }

  @Test func flowCollectionsAcrossLines() throws {
    let node = try parse(
      """
      modules: ['q_proj', "v_proj", k_proj]
      files: [
        a.safetensors,  # first
        b.safetensors
      ]
      map: {r: 8, alpha: 16, nested: [1, 2], empty: }
      after: 1
      """)
    #expect(node["modules"]?.elements?.map(\.scalarText) == ["q_proj", "v_proj", "k_proj"])
    #expect(node["files"]?.elements?.map(\.scalarText) == ["a.safetensors", "b.safetensors"])
    #expect(node["files"]?.elements?[1].line == 4)
    #expect(node["map"]?["alpha"]?.integerValue == 16)
    #expect(node["map"]?["nested"]?.elements?.count == 2)
    #expect(node["map"]?["empty"]?.isNull == true)
    #expect(node["after"]?.line == 7)
  }

  @Test func jsonIsReadWithLines() throws {
    let node = try parse(
      """
      {
        "r": 16,
        "target_modules": ["q_proj", "v_proj"],
        "quantization_config": {"load_in_4bit": true, "bnb_4bit_quant_type": "nf4"},
        "lora_dropout": 0.05
      }
      """)
    #expect(node["r"]?.integerValue == 16)
    #expect(node["r"]?.line == 2)
    #expect(node["quantization_config"]?["load_in_4bit"]?.boolValue == true)
    #expect(node["lora_dropout"]?.line == 5)
  }

  @Test func blockScalars() throws {
    let node = try parse("a: |\n  one\n  two\n\nb: >-\n  x\n  y\nc: 1\n")
    #expect(node["a"]?.scalarText == "one\ntwo\n")
    #expect(node["b"]?.scalarText == "x y")
    #expect(node["c"]?.integerValue == 1)
  }

  @Test func oneLeadingDocumentMarkerAndEmptyDocuments() throws {
    #expect(try parse("---\na: 1\n")["a"]?.integerValue == 1)
    #expect(try parse("").isNull)
    #expect(try parse("# only a comment\n").isNull)
    #expect(try parse("a: 1\r\nb: 2\r\n")["b"]?.integerValue == 2)
  }

  /// Each refusal names the line it stopped on and what it does not support.
  @Test(
    arguments: [
      ("a: 1\nb: &anchor 2\n", 2, "anchors"),
      ("a: 1\nb: *anchor\n", 2, "aliases"),
      ("a: !!str 1\n", 1, "tags"),
      ("a: 1\n---\nb: 2\n", 2, "second document"),
      ("%YAML 1.2\n---\na: 1\n", 1, "directives"),
      ("a: 1\n...\n", 2, "document end"),
      ("a:\n\tb: 1\n", 2, "tab"),
      ("a: 1\na: 2\n", 2, "duplicate key 'a' (first on line 1)"),
      ("a: [1, 2\n", 1, "never closed"),
      ("a: \"open\n", 1, "quoted"),
      ("a: b: c\n", 1, "': '"),
      ("a: 1\n  b: 2\n", 2, "indentation"),
      ("? complex\n: value\n", 1, "complex keys"),
      ("a: - b\n", 1, "sequence"),
      ("a:\n  - x\n  y: 1\n", 3, "indentation"),
      ("a: {b 1}\n", 1, "expected ':'"),
      ("a: [1, 2\nb: 3\n", 2, "expected ',' or ']'"),
      ("a: {b: 1, b: 2}\n", 1, "duplicate key"),
      ("a: \"\\q\"\n", 1, "escape"),
      ("a: 1\nb: \u{1}\n", 2, "control character"),
      ("a: [1]]\n", 1, "after the value"),
    ] as [(String, Int, String)])
  func refusalsNameTheLine(_ text: String, _ line: Int, _ fragment: String) {
    guard let error = failure(text) else { return }
    #expect(error.line == line, "\(error)")
    #expect(error.message.contains(fragment), "\(error)")
    #expect(!error.description.contains("\n"))
  }

  @Test func nestingDeeperThanTheLimitIsRefused() {
    let deepFlow = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
    #expect(failure(deepFlow)?.message.contains("nesting deeper") == true)
    var deepBlock = ""
    for level in 0..<100 { deepBlock += String(repeating: " ", count: level) + "k:\n" }
    #expect(failure(deepBlock)?.message.contains("nesting deeper") == true)
    #expect(failure(String(repeating: "- ", count: 100) + "x\n")?.message.contains("nesting deeper") == true)
  }

  /// Found by the yaml harness (regressions/yaml/crash-key-with-escaped-newline-in-error): a
  /// quoted key holding an escaped line break was echoed into the error, which then spanned two
  /// lines. Keys in errors now show control characters as '?'.
  @Test func aKeyWithAnEscapedLineBreakKeepsTheErrorOnOneLine() throws {
    let url = TestData.packageRoot.appendingPathComponent(
      "Tests/Fuzz/regressions/yaml/crash-key-with-escaped-newline-in-error")
    #expect(throws: YAMLError.self) { try YAMLReader.parse(try Data(contentsOf: url)) }
    let error = failure("{\"a\\nb\" 1}")
    #expect(error?.description == "line 1: expected ':' after the key 'a?b'")
    #expect(failure("\"k\\te\": 1\n\"k\\te\": 2\n")?.description == "line 2: duplicate key 'k?e' (first on line 1)")
    let config = try TrainingConfig(
      data: Data("model_name_or_path: m\nfinetuning_type: lora\noptim: \"a\\nb\"\n".utf8), path: "x.yaml")
    #expect(config.notModelled.first?.note.contains("'a?b'") == true)
  }

  @Test func notUTF8IsRefused() {
    #expect(throws: YAMLError.self) { try YAMLReader.parse(Data([0x61, 0x3A, 0x20, 0xFF, 0xFE])) }
  }

  /// The framework configs in the fixtures read whole.
  @Test(arguments: [
    "llama-factory-llama3_lora_sft_otfq.yaml", "axolotl-llama-3-qlora.yml", "axolotl-llama-3-qlora-fsdp-70b.yaml",
    "torchtune-llama3_1-8B_qlora_single_device.yaml",
  ])
  func frameworkExamplesParse(_ name: String) throws {
    let node = try YAMLReader.parse(try TestData.trainingConfig(name))
    #expect((node.entries?.count ?? 0) > 10)
  }
}

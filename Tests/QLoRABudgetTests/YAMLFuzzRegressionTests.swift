import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The yaml harness's seed corpus and every input its runs kept (Tests/Fuzz/corpus/yaml,
/// Tests/Fuzz/regressions/yaml), replayed with the harness's checks (Tests/Fuzz/harnesses/yaml.swift):
/// a document or a one-line error whose line is inside the input; an accepted training config
/// gives a setup within the estimator's limits.
@Suite struct YAMLFuzzRegressionTests {
  static let inputs = FuzzRegressionTests.inputs("corpus", "yaml") + FuzzRegressionTests.inputs("regressions", "yaml")

  @Test func theCorpusIsThere() { #expect(Self.inputs.count >= 10) }

  @Test(arguments: inputs.map(\.lastPathComponent))
  func inputGivesADocumentOrAnErrorWithALine(_ name: String) throws {
    let url = try #require(Self.inputs.first { $0.lastPathComponent == name })
    let data = try Data(contentsOf: url)
    let lineCount = data.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
    do {
      let node = try YAMLReader.parse(data)
      check(node, lineCount: lineCount)
    } catch {
      #expect((1...lineCount).contains(error.line), "\(error)")
      #expect(!error.description.contains("\n"))
    }
    if let config = try? TrainingConfig(data: data, path: name) {
      let setup = config.setup
      #expect(setup.lora.rank >= 1 && setup.sequenceLength >= 1 && setup.batchSize >= 1)
    }
  }

  func check(_ node: YAMLNode, lineCount: Int) {
    #expect((1...lineCount).contains(node.line))
    if let elements = node.elements { for element in elements { check(element, lineCount: lineCount) } }
    if let entries = node.entries {
      #expect(Set(entries.map(\.key)).count == entries.count)
      for entry in entries { check(entry.value, lineCount: lineCount) }
    }
  }
}

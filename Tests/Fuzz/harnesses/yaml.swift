// libFuzzer harness: the YAML subset reader (Formats/YAMLReader.swift) on arbitrary bytes, then
// the training config reader on the same bytes. Built by Tests/Fuzz/run.sh; not part of the
// SwiftPM package.
//
// Checks, beyond "no crash, no hang": an accepted document gives every node a line inside the
// input, no mapping holds a key twice, nesting stays within YAMLReader.maximumDepth, and a
// refusal names a line inside the input on one line of text.
import Foundation
import QLoRABudget
import QLoRABudgetInputs

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzYAML(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let data = Data(bytes: start, count: count)
  let lineCount = data.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
  do {
    let node = try YAMLReader.parse(data)
    check(node, lineCount: lineCount, depth: 0)
  } catch {
    require((1...lineCount).contains(error.line), "error line \(error.line) outside 1...\(lineCount)")
    require(!error.description.contains("\n"), "multi-line error: \(error.description)")
  }
  if let config = try? TrainingConfig(data: data, path: "fuzz.yaml") {
    var setup = TrainingSetup()
    config.apply(to: &setup)
    require(setup.lora.rank >= 1 && setup.sequenceLength >= 1 && setup.batchSize >= 1, "config gave \(setup)")
  }
  return 0
}

private func check(_ node: YAMLNode, lineCount: Int, depth: Int) {
  require((1...lineCount).contains(node.line), "node line \(node.line) outside 1...\(lineCount)")
  require(depth <= YAMLReader.maximumDepth + 1, "nesting \(depth) beyond the limit")
  switch node.content {
  case .scalar: break
  case .sequence(let elements):
    for element in elements { check(element, lineCount: lineCount, depth: depth + 1) }
  case .mapping(let entries):
    require(Set(entries.map(\.key)).count == entries.count, "a mapping holds a key twice")
    for entry in entries {
      require((1...lineCount).contains(entry.line), "key line \(entry.line) outside 1...\(lineCount)")
      check(entry.value, lineCount: lineCount, depth: depth + 1)
    }
  }
}

/// Reports a broken invariant with its message (kept in optimized builds) and aborts.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
  guard !condition else { return }
  FileHandle.standardError.write(Data("fuzz invariant broken: \(message())\n".utf8))
  abort()
}

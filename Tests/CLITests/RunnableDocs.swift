import Foundation

/// The runnable examples of a Markdown file: fenced blocks opened with ```` ```console ````, in
/// which every line starting with `$ qlora-budget ` is a command (a line ending in `\` continues
/// on the next) and the lines after it, up to the next command or the end of the block, are
/// what it prints: standard error first (warnings come before the result), then standard output.
/// Other fenced blocks are prose and never run. The convention is documented in docs/cli.md,
/// "Examples that cannot drift".
struct RunnableDocs {
  /// One command and the output the document shows for it.
  struct Example {
    /// The words after `qlora-budget`, split as a POSIX shell would for plain words and quotes.
    let arguments: [String]
    /// The command as written (continuations joined), for messages.
    let commandLine: String
    let expectedOutput: String
    /// Where the output lines sit in the file: `lines[outputRange]`.
    let outputRange: Range<Int>
  }

  static let fenceOpening = "```console"
  static let prompt = "$ qlora-budget"

  let lines: [String]
  let examples: [Example]

  init(text: String) throws {
    lines = text.components(separatedBy: "\n")
    examples = try Self.examples(in: lines)
  }

  static func examples(in lines: [String]) throws -> [Example] {
    var found: [Example] = []
    var index = 0
    while index < lines.count {
      guard lines[index].trimmingCharacters(in: .whitespaces) == fenceOpening else {
        index += 1
        continue
      }
      index += 1
      var pending: (command: String, outputStart: Int)? = nil
      func finish(at end: Int) throws {
        guard let current = pending else { return }
        found.append(
          Example(
            arguments: try split(String(current.command.dropFirst(prompt.count))),
            commandLine: current.command,
            expectedOutput: lines[current.outputStart..<end].map { $0 + "\n" }.joined(),
            outputRange: current.outputStart..<end))
        pending = nil
      }
      while index < lines.count, !lines[index].hasPrefix("```") {
        if lines[index].hasPrefix(prompt + " ") || lines[index] == prompt {
          try finish(at: index)
          var command = lines[index]
          while command.hasSuffix("\\"), index + 1 < lines.count {
            index += 1
            command = String(command.dropLast()) + " " + lines[index].trimmingCharacters(in: .whitespaces)
          }
          pending = (command, index + 1)
        }
        index += 1
      }
      try finish(at: index)
      index += 1
    }
    return found
  }

  /// The file's text with each example's output replaced by `outputs[i]`.
  func replacingOutputs(with outputs: [String]) -> String {
    var result: [String] = []
    var next = 0
    for (example, output) in zip(examples, outputs) {
      result += lines[next..<example.outputRange.lowerBound]
      var shown = output.components(separatedBy: "\n")
      if shown.last == "" { shown.removeLast() }
      result += shown
      next = example.outputRange.upperBound
    }
    result += lines[next...]
    return result.joined(separator: "\n")
  }

  struct SplitError: Error, CustomStringConvertible {
    let description: String
  }

  /// Words separated by spaces; single and double quotes group (no escapes, globs or variables:
  /// a documented command is one a reader can paste).
  static func split(_ text: String) throws -> [String] {
    var words: [String] = []
    var word = ""
    var inWord = false
    var quote: Character? = nil
    for character in text {
      if let open = quote {
        if character == open { quote = nil } else { word.append(character) }
      } else if character == "'" || character == "\"" {
        quote = character
        inWord = true
      } else if character == " " || character == "\t" {
        if inWord { words.append(word) }
        word = ""
        inWord = false
      } else {
        word.append(character)
        inWord = true
      }
    }
    guard quote == nil else { throw SplitError(description: "unclosed quote in '\(text)'") }
    if inWord { words.append(word) }
    return words
  }
}

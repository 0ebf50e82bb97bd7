import Foundation
import QLoRABudget

/// A strict reader for the part of YAML that training configs are written in (LLaMA-Factory,
/// Axolotl, torchtune), and for JSON (a flow mapping), with the line of every value.
///
/// Read: block mappings and sequences (a sequence may sit at its key's indentation), flow
/// sequences and mappings (nested, across lines, as JSON writes them), plain, single- and
/// double-quoted scalars, literal (`|`) and folded (`>`) block scalars, comments, one leading
/// `---`. Refused with the line: anchors, aliases, tags, directives, complex keys, a second
/// document, tabs in indentation, multi-line plain or quoted scalars, duplicate keys, nesting
/// deeper than ``maximumDepth``. Refusing is the point: a value the reader half understood
/// would be a wrong estimate; a refused one is a one-line error the user can fix.
public enum YAMLReader {
  /// Deeper nesting is refused, so that no input can exhaust the stack.
  public static let maximumDepth = 64

  /// Parses UTF-8 text. An empty document is a null scalar.
  public static func parse(_ data: Data) throws(YAMLError) -> YAMLNode {
    var bytes = [UInt8](data)
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
    guard String(validating: bytes, as: UTF8.self) != nil else {
      throw YAMLError(line: 1, "the file is not UTF-8 text")
    }
    var parser = try YAMLParser(bytes)
    return try parser.parseDocument()
  }

  public static func parse(_ text: String) throws(YAMLError) -> YAMLNode {
    try parse(Data(text.utf8))
  }
}

/// The recursive-descent parser behind ``YAMLReader``: block structure line by line, flow
/// collections character by character.
struct YAMLParser {
  /// One physical line; `start` is the column its content starts at (the indentation). Parsing
  /// `- key: value` moves `start` to the key, so that the mapping inside the item reads as if
  /// it were written on its own line.
  struct Line {
    let number: Int
    let bytes: [UInt8]
    var start: Int
  }

  private var lines: [Line]
  private var index = 0

  private static let space = UInt8(ascii: " ")
  private static let tab = UInt8(ascii: "\t")

  init(_ bytes: [UInt8]) throws(YAMLError) {
    var lines: [Line] = []
    var number = 0
    for var raw in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init) {
      number += 1
      if raw.last == UInt8(ascii: "\r") { raw.removeLast() }
      if let control = raw.first(where: { $0 < 0x20 && $0 != Self.tab || $0 == 0x7F }) {
        throw YAMLError(
          line: number, "control character 0x\(String(control, radix: 16, uppercase: true)) is not allowed")
      }
      var start = 0
      while start < raw.count, raw[start] == Self.space { start += 1 }
      lines.append(Line(number: number, bytes: raw, start: start))
    }
    self.lines = lines
    try checkDocumentStructure()
  }

  // MARK: - Document

  mutating func parseDocument() throws(YAMLError) -> YAMLNode {
    skipBlank()
    if index < lines.count, Self.isMarker(lines[index], "---") {
      guard isEndOrComment(lines[index], lines[index].start + 3) else {
        throw YAMLError(
          line: lines[index].number, "content on the '---' line is not supported; start it on the next line")
      }
      index += 1
      skipBlank()
    }
    guard index < lines.count else { return YAMLNode(.scalar("", isQuoted: false), line: 1) }
    let node = try parseBlock(parentIndent: -1, depth: 0)
    skipBlank()
    if index < lines.count {
      throw YAMLError(line: lines[index].number, "unexpected content after the document's top-level value")
    }
    return node
  }

  /// Directives, a second document and tabs in indentation, refused before parsing.
  private func checkDocumentStructure() throws(YAMLError) {
    var seenContent = false
    for line in lines where !isBlank(line) {
      let bytes = line.bytes
      if line.start < bytes.count, bytes[line.start] == Self.tab {
        throw YAMLError(line: line.number, "a tab in indentation; YAML indents with spaces")
      }
      if line.start == 0, bytes.first == UInt8(ascii: "%") {
        throw YAMLError(line: line.number, "directives ('%...') are not supported")
      }
      if Self.isMarker(line, "...") {
        throw YAMLError(line: line.number, "document end markers ('...') are not supported")
      }
      if Self.isMarker(line, "---"), seenContent {
        throw YAMLError(line: line.number, "a second document ('---') is not supported; give one document per file")
      }
      seenContent = true
    }
  }

  private static func isMarker(_ line: Line, _ marker: String) -> Bool {
    let bytes = line.bytes
    guard line.start == 0, bytes.starts(with: Array(marker.utf8)) else { return false }
    return bytes.count == 3 || bytes[3] == space || bytes[3] == tab
  }

  // MARK: - Block structure

  /// The node whose first line is the current line, indented more than `parentIndent`.
  private mutating func parseBlock(parentIndent: Int, depth: Int) throws(YAMLError) -> YAMLNode {
    guard depth < YAMLReader.maximumDepth else {
      throw YAMLError(line: lines[index].number, "nesting deeper than \(YAMLReader.maximumDepth) levels")
    }
    let line = lines[index]
    if Self.isSequenceItem(line.bytes, line.start) { return try parseSequence(indent: line.start, depth: depth) }
    if try key(in: line, at: line.start) != nil { return try parseMapping(indent: line.start, depth: depth) }
    return try parseValue(at: line.start, parentIndent: parentIndent, depth: depth, afterKey: false)
  }

  private mutating func parseMapping(indent: Int, depth: Int) throws(YAMLError) -> YAMLNode {
    var entries: [YAMLEntry] = []
    var firstLines: [String: Int] = [:]
    let firstLine = lines[index].number
    while true {
      guard let line = try nextLine(at: indent) else { break }
      if Self.isSequenceItem(line.bytes, line.start) {
        throw YAMLError(line: line.number, "a sequence item where 'key: value' was expected")
      }
      guard let (key, valueStart) = try self.key(in: line, at: line.start) else {
        throw YAMLError(line: line.number, "expected 'key: value'")
      }
      if let first = firstLines[key] {
        throw YAMLError(line: line.number, "duplicate key '\(Self.shown(key))' (first on line \(first))")
      }
      firstLines[key] = line.number
      let value = try parseValue(at: valueStart, parentIndent: indent, depth: depth + 1, afterKey: true)
      entries.append(YAMLEntry(key: key, line: line.number, value: value))
    }
    return YAMLNode(.mapping(entries), line: firstLine)
  }

  /// The next non-blank line of a block at `indent`: nil when the block ends (end of input or a
  /// line indented less); a line indented more is refused, as a multi-line plain value is.
  private mutating func nextLine(at indent: Int) throws(YAMLError) -> Line? {
    skipBlank()
    guard index < lines.count, lines[index].start >= indent else { return nil }
    let line = lines[index]
    guard line.start == indent else {
      throw YAMLError(
        line: line.number, "unexpected indentation (a multi-line plain value is not supported; quote it on one line)")
    }
    return line
  }

  private mutating func parseSequence(indent: Int, depth: Int) throws(YAMLError) -> YAMLNode {
    var elements: [YAMLNode] = []
    let firstLine = lines[index].number
    while true {
      guard let line = try nextLine(at: indent) else { break }
      guard Self.isSequenceItem(line.bytes, line.start) else { break }
      let content = skipSpaces(line.bytes, line.start + 1)
      var nested = false
      if !isEndOrComment(line, content) {
        let isKey = try key(in: line, at: content) != nil
        nested = isKey || Self.isSequenceItem(line.bytes, content)
      }
      if nested {
        guard depth + 1 < YAMLReader.maximumDepth else {
          throw YAMLError(line: line.number, "nesting deeper than \(YAMLReader.maximumDepth) levels")
        }
        lines[index].start = content
        elements.append(try parseBlock(parentIndent: indent, depth: depth + 1))
      } else {
        elements.append(try parseValue(at: line.start + 1, parentIndent: indent, depth: depth + 1, afterKey: false))
      }
    }
    return YAMLNode(.sequence(elements), line: firstLine)
  }

  /// The value that starts at column `start` of the current line (after `key:` or `- `), or,
  /// when the line ends there, the block below it. Leaves `index` after the value's last line.
  private mutating func parseValue(at start: Int, parentIndent: Int, depth: Int, afterKey: Bool) throws(YAMLError)
    -> YAMLNode
  {
    guard depth < YAMLReader.maximumDepth else {
      throw YAMLError(line: lines[index].number, "nesting deeper than \(YAMLReader.maximumDepth) levels")
    }
    let line = lines[index]
    let bytes = line.bytes
    let position = skipSpaces(bytes, start)
    if isEndOrComment(line, position) {
      index += 1
      skipBlank()
      if index < lines.count {
        let next = lines[index]
        if next.start > parentIndent { return try parseBlock(parentIndent: parentIndent, depth: depth + 1) }
        if afterKey, next.start == parentIndent, Self.isSequenceItem(next.bytes, next.start) {
          return try parseSequence(indent: next.start, depth: depth + 1)
        }
      }
      return YAMLNode(.scalar("", isQuoted: false), line: line.number)
    }
    try refuseUnsupported(bytes, position, line: line.number)
    switch bytes[position] {
    case UInt8(ascii: "|"), UInt8(ascii: ">"):
      return try parseBlockScalar(at: position, parentIndent: parentIndent)
    case UInt8(ascii: "["), UInt8(ascii: "{"):
      var cursor = FlowCursor(line: index, column: position)
      let node = try parseFlow(&cursor, depth: depth + 1)
      try expectLineEnd(lines[cursor.line], cursor.column)
      index = cursor.line + 1
      return node
    case UInt8(ascii: "\""), UInt8(ascii: "'"):
      let (text, end) = try quoted(line, at: position)
      try expectLineEnd(line, end)
      index += 1
      return YAMLNode(.scalar(text, isQuoted: true), line: line.number)
    default:
      if Self.isSequenceItem(bytes, position) {
        throw YAMLError(
          line: line.number, "a sequence cannot start on its key's line; put '- ' items on the lines below")
      }
      let text = try plainScalar(line, from: position)
      index += 1
      return YAMLNode(.scalar(text, isQuoted: false), line: line.number)
    }
  }

  /// Anchors, aliases, tags, complex keys and reserved indicators, named in the error.
  private func refuseUnsupported(_ bytes: [UInt8], _ position: Int, line: Int) throws(YAMLError) {
    let next = position + 1 < bytes.count ? bytes[position + 1] : Self.space
    switch bytes[position] {
    case UInt8(ascii: "&"): throw YAMLError(line: line, "anchors ('&name') are not supported; write the value out")
    case UInt8(ascii: "*"): throw YAMLError(line: line, "aliases ('*name') are not supported; write the value out")
    case UInt8(ascii: "!"): throw YAMLError(line: line, "tags ('!tag') are not supported")
    case UInt8(ascii: "@"), UInt8(ascii: "`"):
      throw YAMLError(
        line: line, "a plain value cannot start with '\(Character(Unicode.Scalar(bytes[position])))'; quote it")
    case UInt8(ascii: "?") where next == Self.space || next == Self.tab:
      throw YAMLError(line: line, "complex keys ('? ') are not supported")
    case UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"):
      throw YAMLError(line: line, "unexpected '\(Character(Unicode.Scalar(bytes[position])))'")
    default: return
    }
  }

  /// `|` or `>` with optional `-`/`+` chomping; the indented lines below are the text.
  private mutating func parseBlockScalar(at position: Int, parentIndent: Int) throws(YAMLError) -> YAMLNode {
    let header = lines[index]
    let literal = header.bytes[position] == UInt8(ascii: "|")
    var cursor = position + 1
    var chomping: UInt8?
    if cursor < header.bytes.count,
      header.bytes[cursor] == UInt8(ascii: "-") || header.bytes[cursor] == UInt8(ascii: "+")
    {
      chomping = header.bytes[cursor]
      cursor += 1
    }
    guard isEndOrComment(header, cursor) else {
      throw YAMLError(
        line: header.number, "only '|', '>', '|-', '|+', '>-' and '>+' block scalar headers are supported")
    }
    index += 1
    var contentIndent: Int?
    var texts: [String] = []
    while index < lines.count {
      let line = lines[index]
      let allSpaces = line.start == line.bytes.count
      if !allSpaces {
        if contentIndent == nil {
          guard line.start > parentIndent else { break }
          contentIndent = line.start
        }
        guard let indent = contentIndent, line.start >= indent else { break }
        texts.append(String(decoding: line.bytes[indent...], as: UTF8.self))
      } else {
        texts.append("")
      }
      index += 1
    }
    var trailing = 0
    while texts.last == "" {
      texts.removeLast()
      trailing += 1
    }
    var text = literal ? texts.joined(separator: "\n") : Self.fold(texts)
    switch chomping {
    case UInt8(ascii: "-"): break
    case UInt8(ascii: "+"): text += String(repeating: "\n", count: texts.isEmpty ? trailing : trailing + 1)
    default: if !texts.isEmpty { text += "\n" }
    }
    return YAMLNode(.scalar(text, isQuoted: true), line: header.number)
  }

  /// Folded style: lines joined with spaces, an empty line kept as a line break.
  private static func fold(_ texts: [String]) -> String {
    var result = ""
    var previousWasText = false
    for text in texts {
      if text.isEmpty {
        result += "\n"
        previousWasText = false
      } else {
        if previousWasText { result += " " }
        result += text
        previousWasText = true
      }
    }
    return result
  }

  // MARK: - Flow collections

  struct FlowCursor {
    var line: Int
    var column: Int
  }

  private func parseFlow(_ cursor: inout FlowCursor, depth: Int) throws(YAMLError) -> YAMLNode {
    let startLine = lines[cursor.line].number
    guard depth < YAMLReader.maximumDepth else {
      throw YAMLError(line: startLine, "nesting deeper than \(YAMLReader.maximumDepth) levels")
    }
    let isSequence = lines[cursor.line].bytes[cursor.column] == UInt8(ascii: "[")
    let close = isSequence ? UInt8(ascii: "]") : UInt8(ascii: "}")
    cursor.column += 1
    var elements: [YAMLNode] = []
    var entries: [YAMLEntry] = []
    var firstLines: [String: Int] = [:]
    while true {
      var byte = try skipFlowSpace(&cursor, openedOn: startLine)
      if byte == close {
        cursor.column += 1
        break
      }
      if isSequence {
        elements.append(try flowValue(&cursor, depth: depth + 1))
      } else {
        let keyLine = lines[cursor.line].number
        let keyNode = try flowValue(&cursor, depth: depth + 1, isKey: true)
        guard case .scalar(let key, _) = keyNode.content else {
          throw YAMLError(line: keyLine, "a flow mapping key must be a scalar")
        }
        if let first = firstLines[key] {
          throw YAMLError(line: keyLine, "duplicate key '\(Self.shown(key))' (first on line \(first))")
        }
        firstLines[key] = keyLine
        guard try skipFlowSpace(&cursor, openedOn: startLine) == UInt8(ascii: ":") else {
          throw YAMLError(line: lines[cursor.line].number, "expected ':' after the key '\(Self.shown(key))'")
        }
        cursor.column += 1
        let next = try skipFlowSpace(&cursor, openedOn: startLine)
        let value =
          next == UInt8(ascii: ",") || next == close
          ? YAMLNode(.scalar("", isQuoted: false), line: lines[cursor.line].number)
          : try flowValue(&cursor, depth: depth + 1)
        entries.append(YAMLEntry(key: key, line: keyLine, value: value))
      }
      byte = try skipFlowSpace(&cursor, openedOn: startLine)
      if byte == UInt8(ascii: ",") {
        cursor.column += 1
      } else if byte != close {
        throw YAMLError(
          line: lines[cursor.line].number,
          "expected ',' or '\(Character(Unicode.Scalar(close)))' in the flow collection")
      }
    }
    return YAMLNode(isSequence ? .sequence(elements) : .mapping(entries), line: startLine)
  }

  /// A scalar or nested collection inside a flow collection.
  private func flowValue(_ cursor: inout FlowCursor, depth: Int, isKey: Bool = false) throws(YAMLError) -> YAMLNode {
    let line = lines[cursor.line]
    let bytes = line.bytes
    let position = cursor.column
    try refuseUnsupported(bytes, position, line: line.number)
    switch bytes[position] {
    case UInt8(ascii: "["), UInt8(ascii: "{"):
      if isKey { throw YAMLError(line: line.number, "a flow mapping key must be a scalar") }
      return try parseFlow(&cursor, depth: depth)
    case UInt8(ascii: "\""), UInt8(ascii: "'"):
      let (text, end) = try quoted(line, at: position)
      cursor.column = end
      return YAMLNode(.scalar(text, isQuoted: true), line: line.number)
    default:
      var end = position
      while end < bytes.count {
        let byte = bytes[end]
        if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") { break }
        if byte == UInt8(ascii: "#"), end > position, bytes[end - 1] == Self.space || bytes[end - 1] == Self.tab {
          break
        }
        if byte == UInt8(ascii: ":") {
          let next = end + 1 < bytes.count ? bytes[end + 1] : Self.space
          if next == Self.space || next == Self.tab || next == UInt8(ascii: ",") || next == UInt8(ascii: "]")
            || next == UInt8(ascii: "}")
          {
            break
          }
        }
        end += 1
      }
      let text = Self.trimmed(bytes[position..<end])
      guard !text.isEmpty else { throw YAMLError(line: line.number, "expected a value in the flow collection") }
      cursor.column = end
      return YAMLNode(.scalar(text, isQuoted: false), line: line.number)
    }
  }

  /// Skips spaces, comments and line ends inside a flow collection; returns the next byte.
  private func skipFlowSpace(_ cursor: inout FlowCursor, openedOn: Int) throws(YAMLError) -> UInt8 {
    while cursor.line < lines.count {
      let bytes = lines[cursor.line].bytes
      while cursor.column < bytes.count, bytes[cursor.column] == Self.space || bytes[cursor.column] == Self.tab {
        cursor.column += 1
      }
      if cursor.column < bytes.count {
        let isComment =
          bytes[cursor.column] == UInt8(ascii: "#")
          && (cursor.column == 0 || bytes[cursor.column - 1] == Self.space || bytes[cursor.column - 1] == Self.tab)
        if !isComment { return bytes[cursor.column] }
      }
      cursor.line += 1
      cursor.column = 0
    }
    throw YAMLError(line: openedOn, "the flow collection opened on this line is never closed")
  }

  // MARK: - Scalars

  /// A plain scalar: to the end of the line or a ` #` comment, trailing spaces trimmed.
  private func plainScalar(_ line: Line, from position: Int) throws(YAMLError) -> String {
    let bytes = line.bytes
    var end = position
    while end < bytes.count {
      let byte = bytes[end]
      if byte == UInt8(ascii: "#"), bytes[end - 1] == Self.space || bytes[end - 1] == Self.tab { break }
      if byte == UInt8(ascii: ":"), end + 1 == bytes.count || bytes[end + 1] == Self.space || bytes[end + 1] == Self.tab
      {
        throw YAMLError(line: line.number, "a plain value cannot contain ': '; quote the value")
      }
      end += 1
    }
    return Self.trimmed(bytes[position..<end])
  }

  /// A single- or double-quoted scalar that ends on its line; returns the text and the column
  /// after the closing quote.
  private func quoted(_ line: Line, at position: Int) throws(YAMLError) -> (String, Int) {
    let bytes = line.bytes
    let quote = bytes[position]
    var output: [UInt8] = []
    var cursor = position + 1
    while cursor < bytes.count {
      let byte = bytes[cursor]
      if byte == quote {
        if quote == UInt8(ascii: "'"), cursor + 1 < bytes.count, bytes[cursor + 1] == quote {
          output.append(quote)
          cursor += 2
          continue
        }
        return (String(decoding: output, as: UTF8.self), cursor + 1)
      }
      if quote == UInt8(ascii: "\""), byte == UInt8(ascii: "\\") {
        cursor = try escape(bytes, cursor + 1, into: &output, line: line.number)
        continue
      }
      output.append(byte)
      cursor += 1
    }
    throw YAMLError(
      line: line.number, "a quoted value must end on its line (multi-line quoted values are not supported)")
  }

  /// One escape of a double-quoted scalar (YAML's, which include JSON's); returns the column after it.
  private func escape(_ bytes: [UInt8], _ position: Int, into output: inout [UInt8], line: Int) throws(YAMLError) -> Int
  {
    guard position < bytes.count else {
      throw YAMLError(line: line, "a quoted value must end on its line (multi-line quoted values are not supported)")
    }
    let simple: [UInt8: UInt8] = [
      UInt8(ascii: "n"): 0x0A, UInt8(ascii: "t"): 0x09, UInt8(ascii: "r"): 0x0D, UInt8(ascii: "0"): 0x00,
      UInt8(ascii: "b"): 0x08, UInt8(ascii: "f"): 0x0C, UInt8(ascii: "a"): 0x07, UInt8(ascii: "v"): 0x0B,
      UInt8(ascii: "e"): 0x1B, UInt8(ascii: " "): 0x20, UInt8(ascii: "\""): 0x22, UInt8(ascii: "/"): 0x2F,
      UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "\t"): 0x09,
    ]
    if let byte = simple[bytes[position]] {
      output.append(byte)
      return position + 1
    }
    let digits: Int
    switch bytes[position] {
    case UInt8(ascii: "x"): digits = 2
    case UInt8(ascii: "u"): digits = 4
    case UInt8(ascii: "U"): digits = 8
    default:
      throw YAMLError(line: line, "unknown escape '\\\(Character(Unicode.Scalar(bytes[position])))' in a quoted value")
    }
    var (value, next) = try hex(bytes, position + 1, digits, line: line)
    if digits == 4, (0xD800..<0xDC00).contains(value), next + 1 < bytes.count, bytes[next] == UInt8(ascii: "\\"),
      bytes[next + 1] == UInt8(ascii: "u")
    {
      // A JSON surrogate pair: \uD83D\uDE00.
      let (low, end) = try hex(bytes, next + 2, 4, line: line)
      guard (0xDC00..<0xE000).contains(low) else {
        throw YAMLError(line: line, "an unpaired surrogate in a \\u escape")
      }
      value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
      next = end
    }
    guard let scalar = Unicode.Scalar(value) else {
      throw YAMLError(line: line, "the escape gives U+\(String(value, radix: 16, uppercase: true)), not a character")
    }
    output.append(contentsOf: Array(String(Character(scalar)).utf8))
    return next
  }

  private func hex(_ bytes: [UInt8], _ position: Int, _ digits: Int, line: Int) throws(YAMLError) -> (UInt32, Int) {
    guard position + digits <= bytes.count,
      let value = UInt32(String(decoding: bytes[position..<position + digits], as: UTF8.self), radix: 16)
    else {
      throw YAMLError(line: line, "an escape needs \(digits) hexadecimal digits")
    }
    return (value, position + digits)
  }

  // MARK: - Lines

  /// `key:` at `position`: the key and the column after the colon; nil when the line there is
  /// not a mapping entry.
  private func key(in line: Line, at position: Int) throws(YAMLError) -> (String, Int)? {
    let bytes = line.bytes
    guard position < bytes.count else { return nil }
    switch bytes[position] {
    case UInt8(ascii: "\""), UInt8(ascii: "'"):
      let (key, end) = try quoted(line, at: position)
      let colon = skipSpaces(bytes, end)
      guard colon < bytes.count, bytes[colon] == UInt8(ascii: ":"), Self.endsToken(bytes, colon + 1) else { return nil }
      return (key, colon + 1)
    case UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: "&"), UInt8(ascii: "*"), UInt8(ascii: "!"),
      UInt8(ascii: "|"), UInt8(ascii: ">"):
      return nil
    case UInt8(ascii: "?") where Self.endsToken(bytes, position + 1):
      throw YAMLError(line: line.number, "complex keys ('? ') are not supported")
    default:
      var cursor = position
      while cursor < bytes.count {
        if bytes[cursor] == UInt8(ascii: "#"), cursor > position,
          bytes[cursor - 1] == Self.space || bytes[cursor - 1] == Self.tab
        {
          return nil
        }
        if bytes[cursor] == UInt8(ascii: ":"), Self.endsToken(bytes, cursor + 1) {
          let key = Self.trimmed(bytes[position..<cursor])
          guard !key.isEmpty else { throw YAMLError(line: line.number, "an empty key") }
          return (key, cursor + 1)
        }
        cursor += 1
      }
      return nil
    }
  }

  private static func endsToken(_ bytes: [UInt8], _ position: Int) -> Bool {
    position >= bytes.count || bytes[position] == space || bytes[position] == tab
  }

  private static func isSequenceItem(_ bytes: [UInt8], _ position: Int) -> Bool {
    position < bytes.count && bytes[position] == UInt8(ascii: "-") && endsToken(bytes, position + 1)
  }

  private func skipSpaces(_ bytes: [UInt8], _ position: Int) -> Int {
    var cursor = position
    while cursor < bytes.count, bytes[cursor] == Self.space || bytes[cursor] == Self.tab { cursor += 1 }
    return cursor
  }

  /// Whether only spaces and a comment follow `position`.
  private func isEndOrComment(_ line: Line, _ position: Int) -> Bool {
    let cursor = skipSpaces(line.bytes, position)
    guard cursor < line.bytes.count else { return true }
    return line.bytes[cursor] == UInt8(ascii: "#")
      && (cursor == 0 || line.bytes[cursor - 1] == Self.space || line.bytes[cursor - 1] == Self.tab)
  }

  private func expectLineEnd(_ line: Line, _ position: Int) throws(YAMLError) {
    guard isEndOrComment(line, position) else {
      throw YAMLError(line: line.number, "unexpected text after the value")
    }
  }

  private func isBlank(_ line: Line) -> Bool { isEndOrComment(line, 0) }

  private mutating func skipBlank() {
    while index < lines.count, isBlank(lines[index]) { index += 1 }
  }

  private static func trimmed(_ bytes: ArraySlice<UInt8>) -> String {
    String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
  }

  /// A key as an error shows it: at most 40 characters, control characters (which a quoted
  /// key can hold through escapes) as `?`, so the error stays on one line.
  static func shown(_ key: String) -> String {
    let printable = String(
      String.UnicodeScalarView(key.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
    return printable.count > 40 ? String(printable.prefix(40)) + "..." : printable
  }
}

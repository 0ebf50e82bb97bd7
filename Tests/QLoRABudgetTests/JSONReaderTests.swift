import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The bytes-only JSON reader (issue 19): the same values as `JSONSerialization` over every
/// bundled preset, and a clear error, never a trap, for malformed, truncated, deep or huge input.
@Suite struct JSONReaderTests {
  /// The value `JSONSerialization` reads, converted as the reader it replaced did (booleans are
  /// the `NSNumber`s of type "c").
  static func foundationValue(_ text: String) throws -> JSONValue {
    func convert(_ object: Any) -> JSONValue? {
      switch object {
      case is NSNull: return .null
      case let string as String: return .string(string)
      case let number as NSNumber:
        return String(cString: number.objCType) == "c" ? .bool(number.boolValue) : .number(number.doubleValue)
      case let array as [Any]:
        let elements = array.compactMap(convert)
        return elements.count == array.count ? .array(elements) : nil
      case let dictionary as [String: Any]:
        let members = dictionary.compactMapValues(convert)
        return members.count == dictionary.count ? .object(members) : nil
      default: return nil
      }
    }
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    return try #require(convert(object))
  }

  static var presetTexts: [(name: String, text: String)] {
    let catalog = PresetCatalog.bundled
    return (catalog.modelTexts.sorted { $0.key < $1.key } + catalog.gpuTexts.sorted { $0.key < $1.key })
      .map { ($0.key, $0.value) }
  }

  @Test func everyBundledPresetReadsAsJSONSerializationReadsIt() throws {
    let texts = Self.presetTexts
    #expect(!PresetCatalog.bundled.modelTexts.isEmpty && !PresetCatalog.bundled.gpuTexts.isEmpty)
    for (name, text) in texts {
      let read = try JSONValue(parsing: text)
      #expect(read == (try Self.foundationValue(text)), "preset \(name)")
      #expect(read == (try JSONValue(parsing: Data(text.utf8))), "preset \(name), from Data")
    }
  }

  @Test(
    arguments: [
      ("1e-06", 1e-06), ("0.1", 0.1), ("-0", 0.0), ("100000", 100_000.0), ("4.0", 4.0), ("-2.5E+3", -2500.0),
      ("1346471936", 1_346_471_936.0), ("123456789012345678", 123_456_789_012_345_678.0),
      ("12345678901234567890", 12_345_678_901_234_567_890.0), ("1E400", nil), ("-1e400", nil),
    ] as [(String, Double?)])
  func numbersReadToTheNearestDouble(_ text: String, _ expected: Double?) throws {
    guard let expected else {
      #expect(
        throws: JSONValueError.malformed(reason: "the number \(text) is out of range at line 1, column 1")
      ) { try JSONValue(parsing: text) }
      return
    }
    let value = try JSONValue(parsing: text)
    #expect(value == .number(expected))
    if case .number(let read) = value { #expect(read.sign == expected.sign) }
  }

  @Test func stringsDecodeTheirEscapes() throws {
    #expect(
      try JSONValue(parsing: #"["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u20AC", "\ud83d\ude00", "é€😀"]"#)
        == .array([.string("a\"b\\c/d\u{08}\u{0C}\n\r\t"), .string("é€"), .string("😀"), .string("é€😀")]))
    #expect(
      try JSONValue(parsing: "\u{FEFF}{\"a\": [true, false, null]}")
        == .object(["a": .array([.bool(true), .bool(false), .null])]))
  }

  @Test(arguments: [
    ("", "expected a value, found the end of the text at line 1, column 1"),
    ("{", "expected a key in quotes, found the end of the text at line 1, column 2"),
    (#"{"a": }"#, "expected a value, found '}' at line 1, column 7"),
    ("{\n  \"a\": 1,\n  \"b\" 2\n}", "expected ':' after the key 'b', found '2' at line 3, column 7"),
    (#"{"a": 1 "b": 2}"#, "expected ',' or '}' in an object, found '\"' at line 1, column 9"),
    ("[1, 2", "expected ',' or ']' in an array, found the end of the text at line 1, column 6"),
    ("[1,]", "expected a value, found ']' at line 1, column 4"),
    ("{\"a\": 1} x", "expected the end of the text after the value, found 'x' at line 1, column 10"),
    ("01", "expected the end of the text after the value, found '1' at line 1, column 2"),
    ("-", "expected a digit, found the end of the text at line 1, column 2"),
    ("1.", "expected a digit after '.', found the end of the text at line 1, column 3"),
    ("1e+", "expected a digit in the exponent, found the end of the text at line 1, column 4"),
    ("tru", "expected a value, found 't' at line 1, column 1"),
    ("NaN", "expected a value, found 'N' at line 1, column 1"),
    (#"{"a": "b"#, "a string is not closed at line 1, column 7"),
    ("\"a\u{1}b\"", "a control character (0x01) in a string must be escaped at line 1, column 3"),
    (#""\x""#, "'x' after a backslash is not a JSON escape at line 1, column 2"),
    (#""\u12G4""#, #"expected four hexadecimal digits after \u, found 'G' at line 1, column 6"#),
    (#""\ud800""#, #"a \u escape is half of a UTF-16 surrogate pair at line 1, column 2"#),
    (#""\ude00\ud800""#, #"a \u escape is half of a UTF-16 surrogate pair at line 1, column 2"#),
    (#""\ud83d\u0041""#, #"a \u escape is half of a UTF-16 surrogate pair at line 1, column 2"#),
    ("\u{FF}\u{FE}", "expected a value, found byte 0xC3 at line 1, column 1"),
  ])
  func malformedTextIsAnErrorNamingThePlace(_ text: String, _ reason: String) {
    #expect(throws: JSONValueError.malformed(reason: reason)) { try JSONValue(parsing: text) }
  }

  @Test func invalidUTF8InAStringIsRefused() {
    for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0x5C, 0x6E, 0xED, 0xA0, 0x80, 0x22]] {
      #expect(throws: JSONValueError.malformed(reason: "a string is not valid UTF-8 at line 1, column 1")) {
        try JSONValue(parsing: Data(bytes))
      }
    }
  }

  /// A key twice in a text that is also malformed is called malformed, as before.
  @Test func aDuplicateKeyIsReportedOnlyInWellFormedText() {
    #expect(throws: JSONValueError.duplicateKey("a")) { try JSONValue(parsing: #"{"a": 1, "b": {"a": 2}, "a": 3}"#) }
    #expect(
      throws: JSONValueError.malformed(
        reason: "expected ',' or '}' in an object, found the end of the text at line 1, column 16")
    ) {
      try JSONValue(parsing: #"{"a": 1, "a": 2"#)
    }
  }

  /// Every prefix of a preset short of its closing brace is malformed (the end comes too soon).
  @Test func everyTruncationOfAPresetIsAnError() throws {
    let text = try #require(PresetCatalog.bundled.modelTexts["qwen3-14b"])
    let bytes = Array(text.utf8)
    let closing = try #require(bytes.lastIndex(of: UInt8(ascii: "}")))
    for length in 0..<closing {
      #expect(throws: JSONValueError.self) { try JSONValue(parsing: Data(bytes[..<length])) }
    }
  }

  @Test func nestingIsBoundedAt128Levels() throws {
    let deepest = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
    #expect(try JSONValue(parsing: deepest) != .null)
    for opener in ["[", "{\"k\":"] {
      // The 129th opener is refused: it starts at byte 128 x the opener's length.
      let column = 128 * opener.utf8.count + 1
      let reason = "arrays and objects nested deeper than 128 levels at line 1, column \(column)"
      #expect(throws: JSONValueError.malformed(reason: reason)) {
        try JSONValue(parsing: String(repeating: opener, count: 100_000))
      }
    }
  }

  @Test func hugeInputIsRead() throws {
    let count = 1_000_000
    let array = "[" + Array(repeating: "1.5", count: count).joined(separator: ",") + "]"
    guard case .array(let elements) = try JSONValue(parsing: array) else {
      Issue.record("not an array")
      return
    }
    #expect(elements.count == count)
    #expect(elements.last == .number(1.5))
    let long = String(repeating: "é", count: 5_000_000)
    #expect(try JSONValue(parsing: "\"\(long)\"") == .string(long))
    let digits = String(repeating: "9", count: 400)
    #expect(
      throws: JSONValueError.malformed(reason: "the number \(digits.prefix(40)) is out of range at line 1, column 1")
    ) {
      try JSONValue(parsing: digits)
    }
  }
}

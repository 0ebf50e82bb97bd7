/// A strict JSON reader (RFC 8259) over UTF-8 bytes, for ``JSONValue/init(parsing:)``.
///
/// It replaced `JSONSerialization`, whose values had to be cast and bridged one by one: in a cold
/// `fit` that decode and the Swift runtime's first conformance lookups it triggered were the
/// largest part of the work after the estimate (issue 19). Recursive descent with a depth bound,
/// so hostile input (deep nesting, truncation, invalid UTF-8, numbers out of `Double`'s range)
/// is an error naming the place, never a trap or a stack overflow. A key given twice in one
/// object is remembered and reported only once the whole text is known to be well formed, so
/// a text with both problems is called malformed, as before.
struct JSONReader {
  /// The deepest nesting of arrays and objects read. Hugging Face configs nest four levels at
  /// most; the bound keeps the recursion far from the stack's end on any thread.
  static let maximumDepth = 128

  private let bytes: UnsafeBufferPointer<UInt8>
  private var position = 0
  private var depth = 0
  private var firstDuplicateKey: String?

  private init(_ bytes: UnsafeBufferPointer<UInt8>) {
    self.bytes = bytes
    // A UTF-8 byte order mark is skipped, as JSONSerialization did.
    if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { position = 3 }
  }

  /// The value of a whole JSON text (any value at the top level, as JSONSerialization's
  /// `.fragmentsAllowed` read it).
  static func value(of bytes: UnsafeBufferPointer<UInt8>) throws(JSONValueError) -> JSONValue {
    var reader = JSONReader(bytes)
    let value = try reader.readValue()
    reader.skipWhitespace()
    guard reader.position == bytes.count else { throw reader.unexpected("the end of the text after the value") }
    if let key = reader.firstDuplicateKey { throw .duplicateKey(key) }
    return value
  }

  private mutating func readValue() throws(JSONValueError) -> JSONValue {
    skipWhitespace()
    guard position < bytes.count else { throw unexpected("a value") }
    switch bytes[position] {
    case UInt8(ascii: "{"): return try readObject()
    case UInt8(ascii: "["): return try readArray()
    case UInt8(ascii: "\""): return .string(try readString())
    case UInt8(ascii: "t"): return try readLiteral("true", .bool(true))
    case UInt8(ascii: "f"): return try readLiteral("false", .bool(false))
    case UInt8(ascii: "n"): return try readLiteral("null", .null)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try readNumber())
    default: throw unexpected("a value")
    }
  }

  private mutating func readObject() throws(JSONValueError) -> JSONValue {
    try enter()
    var members: [String: JSONValue] = [:]
    skipWhitespace()
    if take(UInt8(ascii: "}")) {
      depth -= 1
      return .object(members)
    }
    while true {
      skipWhitespace()
      guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw unexpected("a key in quotes") }
      let key = try readString()
      skipWhitespace()
      guard take(UInt8(ascii: ":")) else { throw unexpected("':' after the key '\(key)'") }
      let value = try readValue()
      if members.updateValue(value, forKey: key) != nil, firstDuplicateKey == nil { firstDuplicateKey = key }
      skipWhitespace()
      if take(UInt8(ascii: "}")) { break }
      guard take(UInt8(ascii: ",")) else { throw unexpected("',' or '}' in an object") }
    }
    depth -= 1
    return .object(members)
  }

  private mutating func readArray() throws(JSONValueError) -> JSONValue {
    try enter()
    var elements: [JSONValue] = []
    skipWhitespace()
    if take(UInt8(ascii: "]")) {
      depth -= 1
      return .array(elements)
    }
    while true {
      elements.append(try readValue())
      skipWhitespace()
      if take(UInt8(ascii: "]")) { break }
      guard take(UInt8(ascii: ",")) else { throw unexpected("',' or ']' in an array") }
    }
    depth -= 1
    return .array(elements)
  }

  /// Steps over the opening bracket of an array or object, one level deeper.
  private mutating func enter() throws(JSONValueError) {
    guard depth < Self.maximumDepth else {
      throw malformed("arrays and objects nested deeper than \(Self.maximumDepth) levels")
    }
    depth += 1
    position += 1
  }

  private mutating func readLiteral(_ word: StaticString, _ value: JSONValue) throws(JSONValueError) -> JSONValue {
    let start = position
    for index in 0..<word.utf8CodeUnitCount {
      guard position < bytes.count, bytes[position] == word.utf8Start[index] else {
        position = start
        throw unexpected("a value")
      }
      position += 1
    }
    return value
  }

  /// A number as JSON writes it (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`), to the
  /// nearest `Double`; one beyond `Double`'s range is refused.
  private mutating func readNumber() throws(JSONValueError) -> Double {
    let start = position
    _ = take(UInt8(ascii: "-"))
    if !take(UInt8(ascii: "0")) {
      guard skipDigits() > 0 else { throw unexpected("a digit") }
    }
    var isInteger = true
    if take(UInt8(ascii: ".")) {
      isInteger = false
      guard skipDigits() > 0 else { throw unexpected("a digit after '.'") }
    }
    if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
      isInteger = false
      if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
      guard skipDigits() > 0 else { throw unexpected("a digit in the exponent") }
    }
    let text = UnsafeBufferPointer(rebasing: bytes[start..<position])
    // A whole number of up to 18 digits is exact in Int64; converting it rounds as parsing
    // its text would (and "-0" is 0, as JSONSerialization read it).
    let negative = text[0] == UInt8(ascii: "-")
    let digits = text.dropFirst(negative ? 1 : 0)
    if isInteger, digits.count <= 18 {
      var magnitude: Int64 = 0
      for digit in digits { magnitude = magnitude * 10 + Int64(digit - UInt8(ascii: "0")) }
      return Double(negative ? -magnitude : magnitude)
    }
    guard let value = Double(String(decoding: text, as: UTF8.self)), value.isFinite else {
      throw malformed("the number \(String(decoding: text.prefix(40), as: UTF8.self)) is out of range", at: start)
    }
    return value
  }

  /// How many digits were stepped over.
  private mutating func skipDigits() -> Int {
    let start = position
    while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
    return position - start
  }

  /// The text of a string whose opening quote is at `position`, its escapes decoded.
  private mutating func readString() throws(JSONValueError) -> String {
    let start = position
    position += 1
    var runStart = position
    var decoded: [UInt8] = []
    var hasEscapes = false
    while true {
      guard position < bytes.count else {
        position = start
        throw malformed("a string is not closed")
      }
      let byte = bytes[position]
      if byte == UInt8(ascii: "\"") { break }
      if byte < 0x20 { throw malformed("a control character (\(Self.hex(byte))) in a string must be escaped") }
      if byte != UInt8(ascii: "\\") {
        position += 1
        continue
      }
      hasEscapes = true
      decoded.append(contentsOf: bytes[runStart..<position])
      try readEscape(into: &decoded)
      runStart = position
    }
    let run = UnsafeBufferPointer(rebasing: bytes[runStart..<position])
    position += 1
    let text: String?
    if hasEscapes {
      decoded.append(contentsOf: run)
      text = String(validating: decoded, as: UTF8.self)
    } else {
      text = String(validating: run, as: UTF8.self)
    }
    guard let text else { throw malformed("a string is not valid UTF-8", at: start) }
    return text
  }

  /// Decodes the escape at `position` (a backslash) as UTF-8 into `decoded`.
  private mutating func readEscape(into decoded: inout [UInt8]) throws(JSONValueError) {
    let start = position
    position += 1
    guard position < bytes.count else { throw unexpected("an escaped character") }
    let escaped = bytes[position]
    position += 1
    switch escaped {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escaped)
    case UInt8(ascii: "b"): decoded.append(0x08)
    case UInt8(ascii: "f"): decoded.append(0x0C)
    case UInt8(ascii: "n"): decoded.append(0x0A)
    case UInt8(ascii: "r"): decoded.append(0x0D)
    case UInt8(ascii: "t"): decoded.append(0x09)
    case UInt8(ascii: "u"):
      var value = try readHex4()
      if (0xD800...0xDBFF).contains(value), take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")) {
        let low = try readHex4()
        if (0xDC00...0xDFFF).contains(low) { value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00) }
      }
      // Nil for half of a surrogate pair: a lone one, or a high one not followed by a low one.
      guard let scalar = Unicode.Scalar(value) else {
        throw malformed("a \\u escape is half of a UTF-16 surrogate pair", at: start)
      }
      decoded.append(contentsOf: scalar.utf8)
    default:
      position = start
      throw malformed("\(Self.shown(escaped)) after a backslash is not a JSON escape")
    }
  }

  /// The four hexadecimal digits of a `\u` escape.
  private mutating func readHex4() throws(JSONValueError) -> UInt32 {
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard position < bytes.count else { throw unexpected("four hexadecimal digits after \\u") }
      let byte = bytes[position]
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default: throw unexpected("four hexadecimal digits after \\u")
      }
      value = value << 4 | UInt32(digit)
      position += 1
    }
    return value
  }

  private mutating func skipWhitespace() {
    while position < bytes.count {
      switch bytes[position] {
      case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): position += 1
      default: return
      }
    }
  }

  /// Steps over `byte` when it is next.
  private mutating func take(_ byte: UInt8) -> Bool {
    guard position < bytes.count, bytes[position] == byte else { return false }
    position += 1
    return true
  }

  /// "expected X, found Y at line L, column C" for what is at `position`.
  private func unexpected(_ expected: String) -> JSONValueError {
    let found = position < bytes.count ? Self.shown(bytes[position]) : "the end of the text"
    return malformed("expected \(expected), found \(found)")
  }

  /// `reason` and where it happened, as a 1-based line and column (in bytes).
  private func malformed(_ reason: String, at offset: Int? = nil) -> JSONValueError {
    let offset = min(offset ?? position, bytes.count)
    var line = 1
    var lineStart = 0
    for index in 0..<offset where bytes[index] == UInt8(ascii: "\n") {
      line += 1
      lineStart = index + 1
    }
    return .malformed(reason: "\(reason) at line \(line), column \(offset - lineStart + 1)")
  }

  /// A byte as shown in an error: itself in quotes when printable ASCII, else its value.
  private static func shown(_ byte: UInt8) -> String {
    (0x21...0x7E).contains(byte) ? "'\(UnicodeScalar(byte))'" : "byte \(hex(byte))"
  }

  private static func hex(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16, uppercase: true)
    return "0x" + (digits.count == 1 ? "0" : "") + digits
  }
}

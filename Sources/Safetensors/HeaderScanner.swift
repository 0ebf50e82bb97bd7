/// A JSON scanner for safetensors headers that builds nothing but the tensor entries.
///
/// `JSONSerialization` turns each entry into a dictionary of boxed objects: about 4 KB per
/// tensor, so a 64 MB header of a million empty tensors took 4 GB. This scanner walks the
/// UTF-8 bytes once and hands each member to the caller, so parsing costs the header bytes plus
/// the entries kept (about 150 bytes a tensor). It accepts exactly RFC 8259 JSON (strings with
/// escapes, numbers, literals, nesting up to ``maximumDepth``) and reports the byte offset of
/// the first error.
struct HeaderScanner {
  /// Deepest nesting accepted in values the reader skips (unknown fields).
  static let maximumDepth = 64

  let bytes: UnsafeBufferPointer<UInt8>
  var position = 0

  init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

  var isAtEnd: Bool { position >= bytes.count }

  mutating func skipWhitespace() {
    while position < bytes.count {
      switch bytes[position] {
      case 0x20, 0x09, 0x0A, 0x0D: position += 1
      default: return
      }
    }
  }

  /// The next byte after whitespace, not consumed.
  mutating func peek() -> UInt8? {
    skipWhitespace()
    return position < bytes.count ? bytes[position] : nil
  }

  func failure(_ what: String) -> SafetensorsError {
    .headerNotJSON(reason: "\(what) at byte \(position)")
  }

  mutating func expect(_ byte: UInt8, _ what: String) throws(SafetensorsError) {
    guard peek() == byte else { throw failure("expected \(what)") }
    position += 1
  }

  /// Calls `member` with each key of an object, positioned at its value, which `member` must
  /// consume.
  mutating func object(_ member: (inout HeaderScanner, String) throws(SafetensorsError) -> Void)
    throws(SafetensorsError)
  {
    try expect(UInt8(ascii: "{"), "'{'")
    if peek() == UInt8(ascii: "}") {
      position += 1
      return
    }
    while true {
      guard peek() == UInt8(ascii: "\"") else { throw failure("expected a string key") }
      let key = try string()
      try expect(UInt8(ascii: ":"), "':'")
      try member(&self, key)
      guard let next = peek() else { throw failure("unterminated object") }
      position += 1
      if next == UInt8(ascii: "}") { return }
      guard next == UInt8(ascii: ",") else {
        position -= 1
        throw failure("expected ',' or '}'")
      }
    }
  }

  /// A string value (the opening quote next).
  mutating func string() throws(SafetensorsError) -> String {
    try expect(UInt8(ascii: "\""), "'\"'")
    let start = position
    while position < bytes.count {
      let byte = bytes[position]
      if byte == UInt8(ascii: "\"") {
        defer { position += 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
      }
      if byte == UInt8(ascii: "\\") { break }
      guard byte >= 0x20 else { throw failure("control character in a string") }
      position += 1
    }
    var text = Array(bytes[start..<position])
    while position < bytes.count {
      let byte = bytes[position]
      position += 1
      switch byte {
      case UInt8(ascii: "\""): return String(decoding: text, as: UTF8.self)
      case UInt8(ascii: "\\"): try appendEscape(to: &text)
      case 0..<0x20: throw failure("control character in a string")
      default: text.append(byte)
      }
    }
    throw failure("unterminated string")
  }

  private mutating func appendEscape(to text: inout [UInt8]) throws(SafetensorsError) {
    guard position < bytes.count else { throw failure("unterminated string") }
    let byte = bytes[position]
    position += 1
    let simple: [UInt8: UInt8] = [
      0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C, 0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09,
    ]
    if let replacement = simple[byte] {
      text.append(replacement)
      return
    }
    guard byte == UInt8(ascii: "u") else { throw failure("invalid escape") }
    var scalar = try hex4()
    if (0xD800..<0xDC00).contains(scalar) {
      guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
      else {
        throw failure("unpaired surrogate escape")
      }
      position += 2
      let low = try hex4()
      guard (0xDC00..<0xE000).contains(low) else { throw failure("unpaired surrogate escape") }
      scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
    }
    guard let unicode = Unicode.Scalar(scalar) else { throw failure("unpaired surrogate escape") }
    text.append(contentsOf: Array(String(Character(unicode)).utf8))
  }

  private mutating func hex4() throws(SafetensorsError) -> UInt32 {
    guard position + 4 <= bytes.count else { throw failure("invalid \\u escape") }
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard let digit = Self.hexDigit(bytes[position]) else { throw failure("invalid \\u escape") }
      value = value << 4 | digit
      position += 1
    }
    return value
  }

  private static func hexDigit(_ byte: UInt8) -> UInt32? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
    default: nil
    }
  }

  /// Skips any value; returns its bytes' range.
  @discardableResult
  mutating func skipValue(depth: Int = 0) throws(SafetensorsError) -> Range<Int> {
    guard depth < Self.maximumDepth else { throw failure("nested deeper than \(Self.maximumDepth) levels") }
    guard let first = peek() else { throw failure("expected a value") }
    let start = position
    switch first {
    case UInt8(ascii: "{"):
      try object { (scanner, _) throws(SafetensorsError) in try scanner.skipValue(depth: depth + 1) }
    case UInt8(ascii: "["):
      try array { (scanner) throws(SafetensorsError) in try scanner.skipValue(depth: depth + 1) }
    case UInt8(ascii: "\""):
      _ = try string()
    case UInt8(ascii: "t"): try literal("true")
    case UInt8(ascii: "f"): try literal("false")
    case UInt8(ascii: "n"): try literal("null")
    default: _ = try number()
    }
    return start..<position
  }

  /// Calls `element` at each element of an array, which it must consume.
  mutating func array(_ element: (inout HeaderScanner) throws(SafetensorsError) -> Void) throws(SafetensorsError) {
    try expect(UInt8(ascii: "["), "'['")
    if peek() == UInt8(ascii: "]") {
      position += 1
      return
    }
    while true {
      try element(&self)
      guard let next = peek() else { throw failure("unterminated array") }
      position += 1
      if next == UInt8(ascii: "]") { return }
      guard next == UInt8(ascii: ",") else {
        position -= 1
        throw failure("expected ',' or ']'")
      }
    }
  }

  private mutating func literal(_ word: StaticString) throws(SafetensorsError) {
    let length = word.utf8CodeUnitCount
    guard position + length <= bytes.count,
      UnsafeBufferPointer(rebasing: bytes[position..<(position + length)]).elementsEqual(
        UnsafeBufferPointer(start: word.utf8Start, count: length))
    else { throw failure("invalid literal") }
    position += length
  }

  /// A JSON number's text (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
  mutating func number() throws(SafetensorsError) -> Range<Int> {
    let start = position
    func digits(_ scanner: inout HeaderScanner) -> Int {
      let from = scanner.position
      while scanner.position < scanner.bytes.count, (0x30...0x39).contains(scanner.bytes[scanner.position]) {
        scanner.position += 1
      }
      return scanner.position - from
    }
    if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
    let integerStart = position
    let integerDigits = digits(&self)
    guard integerDigits > 0, !(integerDigits > 1 && bytes[integerStart] == UInt8(ascii: "0")) else {
      throw failure("invalid number")
    }
    if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
      position += 1
      guard digits(&self) > 0 else { throw failure("invalid number") }
    }
    if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
      position += 1
      if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
        position += 1
      }
      guard digits(&self) > 0 else { throw failure("invalid number") }
    }
    return start..<position
  }

  /// The text of `range`, shortened to `limit` characters for messages.
  func text(_ range: Range<Int>, limit: Int = 80) -> String {
    let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    return text.count <= limit ? text : text.prefix(limit) + "…"
  }

  /// A non-negative integer written as plain digits (no sign, fraction or exponent) that fits
  /// in Int64, from a number's range; nil otherwise.
  func plainInteger(_ range: Range<Int>) -> Int64? {
    var value: Int64 = 0
    for index in range {
      let byte = bytes[index]
      guard (0x30...0x39).contains(byte) else { return nil }
      let (scaled, overflow1) = value.multipliedReportingOverflow(by: 10)
      let (sum, overflow2) = scaled.addingReportingOverflow(Int64(byte - 0x30))
      guard !overflow1, !overflow2 else { return nil }
      value = sum
    }
    return range.isEmpty ? nil : value
  }
}

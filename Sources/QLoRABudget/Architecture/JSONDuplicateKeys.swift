/// The first key that appears twice in one object of a JSON text, or nil.
///
/// JSON readers keep the last of two equal keys silently (`JSONSerialization` does), so a
/// config.json with `hidden_size` twice would be read as whichever came last. This pass runs on
/// text a JSON parser has already accepted: it only tracks strings, objects and arrays, with an
/// explicit stack (no recursion), and compares keys after decoding their escapes (`"a"` and
/// `"\u0061"` are the same key).
enum JSONDuplicateKeys {
  static func first(in bytes: some Collection<UInt8>) -> String? {
    // Per open container: its keys so far when an object (nil for an array), and whether the
    // next string in it is a key.
    var stack: [(keys: Set<String>?, expectsKey: Bool)] = []
    var iterator = bytes.makeIterator()
    while let byte = iterator.next() {
      switch byte {
      case UInt8(ascii: "{"): stack.append((keys: [], expectsKey: true))
      case UInt8(ascii: "["): stack.append((keys: nil, expectsKey: false))
      case UInt8(ascii: "}"), UInt8(ascii: "]"): _ = stack.popLast()
      case UInt8(ascii: ","): if stack.last?.keys != nil { stack[stack.count - 1].expectsKey = true }
      case UInt8(ascii: "\""):
        let text = string(&iterator)
        guard let top = stack.last, top.expectsKey, var keys = top.keys else { continue }
        guard keys.insert(text).inserted else { return text }
        stack[stack.count - 1] = (keys: keys, expectsKey: false)
      default: continue
      }
    }
    return nil
  }

  /// The decoded text of a string whose opening quote was just read.
  private static func string<I: IteratorProtocol<UInt8>>(_ iterator: inout I) -> String {
    var scalars = String.UnicodeScalarView()
    var utf8: [UInt8] = []
    var pendingHigh: UInt32?
    func flush() {
      if !utf8.isEmpty { scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars) }
      utf8.removeAll(keepingCapacity: true)
    }
    while let byte = iterator.next(), byte != UInt8(ascii: "\"") {
      guard byte == UInt8(ascii: "\\"), let escaped = iterator.next() else {
        utf8.append(byte)
        continue
      }
      flush()
      switch escaped {
      case UInt8(ascii: "u"):
        var value: UInt32 = 0
        for _ in 0..<4 { value = value << 4 | UInt32(hexValue(iterator.next() ?? 0)) }
        if (0xD800...0xDBFF).contains(value) {
          pendingHigh = value
          continue
        }
        if let high = pendingHigh, (0xDC00...0xDFFF).contains(value) {
          value = 0x10000 + ((high - 0xD800) << 10) + (value - 0xDC00)
        }
        scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
      case UInt8(ascii: "n"): scalars.append("\n")
      case UInt8(ascii: "t"): scalars.append("\t")
      case UInt8(ascii: "r"): scalars.append("\r")
      case UInt8(ascii: "b"): scalars.append("\u{08}")
      case UInt8(ascii: "f"): scalars.append("\u{0C}")
      default: scalars.append(Unicode.Scalar(escaped))
      }
      pendingHigh = nil
    }
    flush()
    return String(scalars)
  }

  private static func hexValue(_ byte: UInt8) -> UInt8 {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: 0
    }
  }
}

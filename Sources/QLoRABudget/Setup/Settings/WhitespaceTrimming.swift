extension Substring {
  /// The text without the whitespace at its ends that `trimmingCharacters(in: .whitespaces)`
  /// removes (tabs and spaces of every width), scalar by scalar.
  ///
  /// Foundation's version goes through `NSString` on Linux: 1.6% of a cold `fit` trimming the
  /// model argument and setting values (issue 19). On concrete types, not `StringProtocol`: the
  /// generic version instantiated its types by name at run time, at about the same cost.
  /// `WhitespaceTrimmingTests` checks it against Foundation's.
  package func trimmingHorizontalWhitespace() -> String {
    let scalars = unicodeScalars
    var start = scalars.startIndex
    var end = scalars.endIndex
    while start < end, scalars[start].isTrimmedWhitespace { scalars.formIndex(after: &start) }
    while start < end {
      let before = scalars.index(before: end)
      guard scalars[before].isTrimmedWhitespace else { break }
      end = before
    }
    return String(self[start..<end])
  }
}

extension String {
  /// ``Substring/trimmingHorizontalWhitespace()`` of the whole text.
  package func trimmingHorizontalWhitespace() -> String { self[...].trimmingHorizontalWhitespace() }
}

extension Unicode.Scalar {
  /// Foundation's whitespace set: the tab, the space separators of Unicode 15 (Zs) and, in
  /// Core Foundation's definition that Linux uses, the zero width space U+200B.
  fileprivate var isTrimmedWhitespace: Bool {
    switch value {
    case 0x09, 0x20, 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: true
    default: false
    }
  }
}

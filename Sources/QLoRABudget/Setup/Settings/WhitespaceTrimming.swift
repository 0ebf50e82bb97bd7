extension StringProtocol {
  /// The text without the whitespace at its ends that `trimmingCharacters(in: .whitespaces)`
  /// removes (tabs and spaces of every width), scalar by scalar.
  ///
  /// Foundation's version goes through `NSString` on Linux: 1.6% of a cold `fit` trimming the
  /// model argument and setting values (issue 19). `WhitespaceTrimmingTests` checks the two agree.
  package func trimmingWhitespace() -> String {
    let scalars = unicodeScalars
    guard let first = scalars.firstIndex(where: { !$0.isTrimmedWhitespace }),
      let last = scalars.lastIndex(where: { !$0.isTrimmedWhitespace })
    else { return "" }
    return String(String.UnicodeScalarView(scalars[first...last]))
  }
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

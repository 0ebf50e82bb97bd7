import Foundation
import Testing

@testable import QLoRABudget

/// `trimmingHorizontalWhitespace()` removes what Foundation's `trimmingCharacters(in: .whitespaces)`
/// removes (issue 19 replaced it in the CLI's argument checks and list options).
@Suite struct WhitespaceTrimmingTests {
  /// Every Unicode space separator (Zs, Unicode 15), the tab, and characters that look blank but
  /// are not in the set (newlines, zero-width space, a combining mark after a space).
  static let samples = [
    "", " ", "\t", "  a  ", "\ta b\t", " \n a \r\n ", "\u{A0}x\u{A0}", "\u{1680}\u{2000}\u{2001}\u{2002}y\u{2003}",
    "\u{2004}\u{2005}\u{2006}\u{2007}\u{2008}\u{2009}\u{200A}z\u{202F}\u{205F}\u{3000}", "\u{200B}w\u{200B}",
    " \u{301}a \u{301}", "é ", " 😀 ", "\u{85}v\u{85}", "\u{B}\u{C}u", "q_proj", " q_proj ",
  ]

  @Test(arguments: samples)
  func trimsWhatFoundationTrims(_ text: String) {
    #expect(text.trimmingHorizontalWhitespace() == text.trimmingCharacters(in: .whitespaces))
    let padded = "x" + text + "x"
    let inner = padded.dropFirst().dropLast()
    #expect(inner.trimmingHorizontalWhitespace() == inner.trimmingCharacters(in: .whitespaces))
  }

  /// Each scalar of the Basic Multilingual Plane alone, between letters and at both ends.
  @Test func everyScalarIsTrimmedAsFoundationTrimsIt() {
    for value in UInt32(0)..<0x1_0000 {
      guard let scalar = Unicode.Scalar(value) else { continue }
      let text = "\(scalar)a\(scalar)"
      #expect(
        text.trimmingHorizontalWhitespace() == text.trimmingCharacters(in: .whitespaces),
        "U+\(String(value, radix: 16))")
    }
  }

  @Test func theSpaceSeparatorsAreTrimmed() {
    #expect("\u{A0}\u{3000}\ta\u{2003} ".trimmingHorizontalWhitespace() == "a")
    #expect("\u{A0}\u{3000}\t ".trimmingHorizontalWhitespace().isEmpty)
    #expect("\na\n".trimmingHorizontalWhitespace() == "\na\n")
  }
}

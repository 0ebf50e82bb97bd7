import Foundation
import Testing

@testable import qlora_budget

/// The CLI's start-up helpers that replaced Foundation calls (issue 19) give what those gave.
@Suite struct ColdStartHelpersTests {
  @Test func theEnvironmentIsProcessInfos() {
    #expect(ProcessEnvironment.current() == ProcessInfo.processInfo.environment)
    #expect(!ProcessEnvironment.current().isEmpty)
  }

  /// The greedy wrap as it was before the byte path: words split on Characters, a line's width
  /// counted in Characters.
  static func referenceWrap(_ text: String, width: Int) -> [String] {
    var lines: [String] = []
    var current = ""
    for word in text.split(separator: " ") {
      if !current.isEmpty, current.count + 1 + word.count > width {
        lines.append(current)
        current = ""
      }
      current += (current.isEmpty ? "" : " ") + word
    }
    if !current.isEmpty { lines.append(current) }
    return lines
  }

  static let texts = [
    "", " ", "one", "  leading and trailing  ", "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "Note: the activation checkpointing keeps each layer's input and recomputes one layer at a time",
    "averyveryveryverylongwordthatdoesnotfitinthewidthatall and more", "tabs\tare\tnot spaces",
    "CR LF\r\nis one Character\r\nhere and there", "é è ê ë café naïve façade", "emoji 😀 👨‍👩‍👧 🇫🇷 flags",
    "a \u{301}combining mark after a space", "\u{301}starts with a mark", "mixed ascii and ünïcödé words here",
  ]

  @Test(arguments: texts)
  func wrapMatchesTheCharacterWrap(_ text: String) {
    for width in [1, 5, 10, 20, 40, 72, 80] {
      #expect(HelpText.wrap(text, width: width) == Self.referenceWrap(text, width: width), "width \(width)")
    }
  }

  @Test func wrapBreaksAtTheWidth() {
    #expect(HelpText.wrap("aaa bbb ccc", width: 7) == ["aaa bbb", "ccc"])
    #expect(HelpText.wrap("ééé ààà ccc", width: 7) == ["ééé ààà", "ccc"])
  }
}

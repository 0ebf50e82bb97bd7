import Foundation
import QLoRABudget

/// Pasted console output regrouped into one text per rank, ready for ``OutOfMemoryReader``.
///
/// People paste OOM reports with what surrounds them: `[rank3]:` / `[RANK:1]` /
/// `[default0]:` prefixes from distributed launchers (several ranks' lines interleaved),
/// Python's `^^^^` markers under traceback lines, terminal colour codes, and lines wrapped at
/// any column, even inside a number or between a number and its unit. Each line is stripped of
/// those, and a rank's lines are joined with nothing between them, so that a wrapped
/// `23.6` + `5 GiB` reads `23.65 GiB` again; the reader allows any whitespace, or none, between
/// the words of a clause.
struct PastedLog {
  struct Stream {
    let rank: Int64?
    /// The rank's lines, stripped and concatenated.
    var text = ""
    /// `text`'s length in UTF-16 code units (NSRegularExpression's offsets).
    var length = 0
    /// Where each joined line starts in `text` (UTF-16 offset), with its line number in the paste.
    var lineStarts: [(offset: Int, line: Int)] = []

    /// The paste's line number of a UTF-16 offset in `text`.
    func line(at offset: Int) -> Int {
      var low = 0
      var high = lineStarts.count - 1
      while low < high {
        let middle = (low + high + 1) / 2
        if lineStarts[middle].offset <= offset { low = middle } else { high = middle - 1 }
      }
      return lineStarts.isEmpty ? 0 : lineStarts[low].line
    }
  }

  private(set) var streams: [Stream] = []

  /// `[rank3]:`, `[RANK:1]`, `[default0]:` (torchrun), `[1,3]<stderr>:` (mpirun's tags; the
  /// second number is the rank), each after an optional `host: ` (pdsh, DeepSpeed's launcher).
  private static let rankPrefix = try! NSRegularExpression(
    pattern:
      #"^\s*(?:[A-Za-z0-9_.-]{1,64}:\s*)?(?:\[(?:rank|RANK|default)\s*:?\s*([0-9]{1,9})\]|\[[0-9]{1,9},([0-9]{1,9})\]<std(?:out|err)>)\s*:?"#
  )
  private static let terminalCodes = try! NSRegularExpression(pattern: "\u{1B}\\[[0-9;?]*[A-Za-z]")

  init(_ text: String) {
    var index: [Int64?: Int] = [:]
    var lineNumber = 0
    // Character-wise: "\r\n" (a Windows paste) is one Character, a newline, not "\n".
    for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
      lineNumber += 1
      var line = String(rawLine)
      if line.contains("\u{1B}") {
        line = Self.terminalCodes.stringByReplacingMatches(
          in: line, range: NSRange(location: 0, length: (line as NSString).length), withTemplate: "")
      }
      var rank: Int64?
      let nsLine = line as NSString
      if let match = Self.rankPrefix.firstMatch(in: line, range: NSRange(location: 0, length: nsLine.length)) {
        let group = match.range(at: 1).location != NSNotFound ? 1 : 2
        rank = Int64(nsLine.substring(with: match.range(at: group)))
        line = nsLine.substring(from: match.range.upperBound)
      }
      let content = line.trimmingCharacters(in: .whitespacesAndNewlines)
      // Python's markers under the failing expression: `    ^^^^^^^^` or `~~~~^^^^~~`.
      if content.isEmpty || (content.contains("^") && content.allSatisfy({ $0 == "^" || $0 == "~" || $0 == " " })) {
        continue
      }
      let slot: Int
      if let existing = index[rank] {
        slot = existing
      } else {
        slot = streams.count
        index[rank] = slot
        streams.append(Stream(rank: rank))
      }
      streams[slot].lineStarts.append((streams[slot].length, lineNumber))
      streams[slot].text += content
      streams[slot].length += content.utf16.count
    }
  }
}

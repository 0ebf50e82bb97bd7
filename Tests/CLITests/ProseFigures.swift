import Foundation

/// Figures in a document's prose that come from the tool, so they cannot drift: each is written
///
///     <!-- figure: ARGUMENTS | KEY.PATH FORMAT -->13.07 GiB<!-- /figure -->
///
/// where ARGUMENTS are the words after `qlora-budget` (ending in `--json`), KEY.PATH picks a value
/// from the JSON it prints (object keys and array indices joined by dots), and FORMAT is how
/// the prose shows it: `gib` (bytes as GiB with two decimals and the unit), `count` (a whole
/// number, grouped by thousands), `text` (a string as it is), or `error-vs:N` (the figure's
/// signed error against N GiB measured, in percent with one decimal). DocsTests runs every
/// figure and compares, or rewrites them with QLORA_BUDGET_UPDATE_DOCS=1 (docs/cli.md,
/// "Examples that cannot drift").
struct ProseFigures {
  struct Figure {
    let arguments: [String]
    let keyPath: [String]
    let format: String
    let shown: String
    /// The range of `shown` in the document.
    let range: Range<String.Index>
  }

  struct FigureError: Error, CustomStringConvertible {
    let description: String
  }

  static let pattern = try! NSRegularExpression(
    pattern: #"<!-- figure: ([^|]+)\| *([A-Za-z0-9_.]+) +([a-z:0-9.-]+) *-->(.*?)<!-- /figure -->"#)

  let text: String
  let figures: [Figure]

  init(text: String) throws {
    self.text = text
    var figures: [Figure] = []
    let whole = NSRange(text.startIndex..., in: text)
    for match in Self.pattern.matches(in: text, range: whole) {
      func group(_ index: Int) throws -> (String, Range<String.Index>) {
        guard let range = Range(match.range(at: index), in: text) else {
          throw FigureError(description: "a figure marker without its parts")
        }
        return (String(text[range]), range)
      }
      let (arguments, _) = try group(1)
      let (keyPath, _) = try group(2)
      let (format, _) = try group(3)
      let (shown, range) = try group(4)
      figures.append(
        Figure(
          arguments: try RunnableDocs.split(arguments.trimmingCharacters(in: .whitespaces)),
          keyPath: keyPath.split(separator: ".").map(String.init), format: format, shown: shown, range: range))
    }
    self.figures = figures
  }

  /// The figure as the prose should show it, from the tool's JSON output.
  static func render(_ figure: Figure, json: String) throws -> String {
    var value: Any = try JSONSerialization.jsonObject(with: Data(json.utf8))
    for key in figure.keyPath {
      if let index = Int(key), let array = value as? [Any], array.indices.contains(index) {
        value = array[index]
      } else if let object = value as? [String: Any], let next = object[key] {
        value = next
      } else {
        throw FigureError(
          description: "'\(figure.arguments.joined(separator: " "))' has no '\(figure.keyPath.joined(separator: "."))'")
      }
    }
    let number = (value as? NSNumber)?.doubleValue
    switch figure.format {
    case "text":
      return "\(value)"
    case "count":
      guard let number else { break }
      let formatter = NumberFormatter()
      formatter.numberStyle = .decimal
      formatter.groupingSeparator = ","
      formatter.usesGroupingSeparator = true
      formatter.locale = Locale(identifier: "en_US_POSIX")
      return formatter.string(from: NSNumber(value: Int64(number))) ?? String(Int64(number))
    case "gib":
      guard let number else { break }
      return String(format: "%.2f GiB", number / 1_073_741_824)
    case let format where format.hasPrefix("error-vs:"):
      guard let number, let measured = Double(format.dropFirst("error-vs:".count)) else { break }
      let error = (number / 1_073_741_824 - measured) / measured * 100
      return (error >= 0 ? "+" : "") + String(format: "%.1f%%", error)
    default:
      break
    }
    throw FigureError(description: "figure format '\(figure.format)' does not apply to \(value)")
  }

  /// The document with each figure replaced by `shown[i]`.
  func replacing(with shown: [String]) -> String {
    var result = text
    for (figure, new) in zip(figures, shown).reversed() { result.replaceSubrange(figure.range, with: new) }
    return result
  }
}

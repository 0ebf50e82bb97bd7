/// Help generated from the command table and the option specs, so it cannot drift from the code.
enum HelpText {
  static let version = "qlora-budget 0.1.0"

  static var overview: String {
    let width = CommandTable.all.map { $0.name.count }.max() ?? 0
    // Summaries wrap under themselves so every line stays within 80 columns.
    let indent = String(repeating: " ", count: width + 4)
    let commands = CommandTable.all.map { command in
      wrap(command.summary, width: 80 - indent.count).enumerated()
        .map { ($0 == 0 ? "  " + pad(command.name, width) + "  " : indent) + $1 }
        .joined(separator: "\n")
    }
    return """
      OVERVIEW: How much GPU and host memory a QLoRA fine-tune takes, where every byte
      goes, and whether it fits.

      USAGE: qlora-budget <command> [arguments] [options]

      COMMANDS:
      \(commands.joined(separator: "\n"))

      OPTIONS:
        --presets <dir>   Read presets from a folder laid out like Presets/.
        --version         Show the version.
        -h, --help        Show help for the tool or, after a command, for the command.

      EXAMPLE:
        qlora-budget fit qwen3-14b --gpu rtx-4090 --rank 32

      See 'qlora-budget help <command>' for a command's options.

      """
  }

  static func usageLine(_ command: any Command.Type) -> String {
    "qlora-budget \(command.name) \(command.arguments)"
  }

  /// A command's help: every option with its values and default, wrapped to 80 columns.
  static func command(_ command: any Command.Type) -> String {
    var lines = ["OVERVIEW: \(command.summary)", "", "USAGE: \(usageLine(command))", "", "OPTIONS:"]
    for option in command.options {
      lines.append("  " + option.synopsis)
      var help = option.help
      if !option.values.isEmpty { help += " (values: \(option.values.joined(separator: ", ")))" }
      if let defaultValue = option.defaultValue { help += " (default: \(defaultValue))" }
      lines += wrap(help, width: 74).map { "      " + $0 }
    }
    lines.append("  -h, --help")
    lines.append("      Show this help.")
    return lines.joined(separator: "\n") + "\n"
  }

  static func pad(_ text: String, _ width: Int) -> String {
    text + String(repeating: " ", count: max(0, width - text.count))
  }

  /// Greedy word wrap: words split at spaces, at most `width` columns (Characters) a line.
  static func wrap(_ text: String, width: Int) -> [String] {
    var lines: [String] = []
    var current = ""
    var columns = 0
    for (word, wordColumns) in words(text) {
      if columns > 0, columns + 1 + wordColumns > width {
        lines.append(current)
        current = ""
        columns = 0
      }
      if columns > 0 {
        current += " "
        columns += 1
      }
      current.append(contentsOf: word)
      columns += wordColumns
    }
    if !current.isEmpty { lines.append(current) }
    return lines
  }

  /// The words between spaces, each with its Characters counted. ASCII text without `\r` (CR LF
  /// is one Character) has one Character a byte, so it is split and counted on bytes: grapheme
  /// breaking was most of a cold `fit`'s rendering (issue 19). A space that is a Character of
  /// its own joins no neighbour, so a line's columns are its words' plus the spaces.
  private static func words(_ text: String) -> [(Substring, Int)] {
    if text.utf8.allSatisfy({ $0 < 0x80 && $0 != UInt8(ascii: "\r") }) {
      return text.utf8.split(separator: UInt8(ascii: " ")).map { (Substring($0), $0.count) }
    }
    return text.split(separator: " ").map { ($0, $0.count) }
  }
}

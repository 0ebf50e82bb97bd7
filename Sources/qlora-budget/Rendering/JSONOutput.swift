import QLoRABudget
import QLoRABudgetInputs

/// JSON written in a fixed key order (the contract in docs/cli.md), with integers kept exact.
indirect enum JSONOutput {
  case null
  case bool(Bool)
  case integer(Int64)
  case number(Double)
  case string(String)
  case array([JSONOutput])
  case object([(String, JSONOutput)])

  /// A byte count as an integer, or null when absent.
  static func bytes(_ count: ByteCount?) -> JSONOutput {
    guard let count else { return .null }
    return .integer(count.bytes)
  }

  /// Pretty-printed with two-space indentation.
  func rendered(indent: Int = 0) -> String {
    let pad = String(repeating: " ", count: indent + 2)
    let closing = String(repeating: " ", count: indent)
    switch self {
    case .null: return "null"
    case .bool(let flag): return flag ? "true" : "false"
    case .integer(let value): return String(value)
    case .number(let value): return value.isFinite ? String(value) : "null"
    case .string(let text): return Self.quoted(text)
    case .array(let elements):
      guard !elements.isEmpty else { return "[]" }
      return "[\n" + elements.map { pad + $0.rendered(indent: indent + 2) }.joined(separator: ",\n") + "\n\(closing)]"
    case .object(let members):
      guard !members.isEmpty else { return "{}" }
      return "{\n"
        + members.map { pad + Self.quoted($0.0) + ": " + $0.1.rendered(indent: indent + 2) }.joined(separator: ",\n")
        + "\n\(closing)}"
    }
  }

  static func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": result += "\\\""
      case "\\": result += "\\\\"
      case "\n": result += "\\n"
      case "\r": result += "\\r"
      case "\t": result += "\\t"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: result.unicodeScalars.append(scalar)
      }
    }
    return result + "\""
  }
}

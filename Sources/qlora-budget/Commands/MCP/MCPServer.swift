import Foundation
import QLoRABudget
import QLoRABudgetInputs

/// The Model Context Protocol server behind `qlora-budget mcp`: answers one JSON-RPC message
/// at a time with at most one line.
///
/// Both protocol eras are served. The current revision (2026-07-28) is stateless: a request
/// names its revision in `params._meta["io.modelcontextprotocol/protocolVersion"]`, the
/// server describes itself through `server/discover`, and results carry `resultType`. Clients
/// of the earlier revisions (2024-11-05 to 2025-11-25) open with `initialize` and
/// `notifications/initialized` and get results without `resultType`.
struct MCPServer {
  static let currentRevision = "2026-07-28"
  /// Revisions with the `initialize` handshake, newest first.
  static let handshakeRevisions = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
  static var supportedRevisions: [String] { [currentRevision] + handshakeRevisions }
  static let metaVersionKey = "io.modelcontextprotocol/protocolVersion"

  /// Runs a command line in-process, returning its exit status, stdout and stderr.
  var runCommand: ([String]) -> (ExitStatus, String, String)

  /// The reply to one line of input (nil for a notification).
  func reply(to line: MCPLineReader.Line) -> String? {
    switch line {
    case .tooLong: return Self.error(id: .null, .lineTooLong)
    case .message(let data):
      switch MCPMessage(data) {
      case .notification: return nil
      case .invalid(let id, let error): return Self.error(id: id, error)
      case .request(let id, let method, let params):
        do {
          return Self.line([("jsonrpc", .string("2.0")), ("id", id)], result: try answer(method, params))
        } catch {
          return Self.error(id: id, error)
        }
      }
    }
  }

  /// A result is written as text because `structuredContent` embeds a command's JSON as printed.
  private func answer(_ method: String, _ params: [String: Any]) throws(MCPError) -> String {
    var modern = false
    if let meta = params["_meta"] as? [String: Any], let version = meta[Self.metaVersionKey] {
      guard let version = version as? String, version == Self.currentRevision else {
        throw .unsupportedVersion(String(describing: version), supported: [Self.currentRevision])
      }
      modern = true
    }
    let complete = modern ? [("resultType", JSONOutput.string("complete"))] : []
    switch method {
    case "initialize":
      let requested = params["protocolVersion"] as? String ?? ""
      let version = Self.handshakeRevisions.contains(requested) ? requested : Self.handshakeRevisions[0]
      return Self.compact(
        .object([
          ("protocolVersion", .string(version)), ("capabilities", Self.capabilities), ("serverInfo", Self.serverInfo),
          (
            "instructions",
            .string("Memory of QLoRA/LoRA fine-tunes before renting a GPU, and why a run went out of memory.")
          ),
        ]))
    case "server/discover":
      return Self.compact(
        .object([
          ("supportedVersions", .array(Self.supportedRevisions.map { .string($0) })),
          ("capabilities", Self.capabilities),
          ("serverInfo", Self.serverInfo), ("resultType", .string("complete")),
        ]))
    case "ping":
      return Self.compact(.object(complete))
    case "tools/list":
      return Self.compact(.object([("tools", .array(MCPTool.all.map(\.listing)))] + complete))
    case "tools/call":
      guard let name = params["name"] as? String else { throw .invalidParams("'name' must be a string") }
      guard let tool = MCPTool.all.first(where: { $0.name == name }) else {
        throw .invalidParams("unknown tool '\(name)'; the tools are \(MCPTool.all.map(\.name).joined(separator: ", "))")
      }
      let arguments: [String: Any]
      switch params["arguments"] {
      case nil: arguments = [:]
      case let object as [String: Any]: arguments = object
      default: throw .invalidParams("'arguments' must be an object")
      }
      return call(tool, try tool.commandLine(arguments), modern: modern)
    default:
      throw .methodNotFound(method)
    }
  }

  /// Runs the tool's command: its JSON as `structuredContent` and a summary as text content;
  /// a command that refuses (a usage error, an unreadable file) gives `isError` and its message.
  private func call(_ tool: MCPTool, _ commandLine: [String], modern: Bool) -> String {
    let (status, output, errors) = runCommand(commandLine)
    let complete = modern ? ",\"resultType\":\"complete\"" : ""
    guard [.success, .tight, .doesNotFit].contains(status),
      let parsed = try? JSONSerialization.jsonObject(with: Data(output.utf8))
    else {
      let first = errors.split(separator: "\n").first.map(String.init) ?? "the command failed (exit \(status.rawValue))"
      let message = first.hasPrefix("Error: ") ? String(first.dropFirst(7)) : first
      let content = JSONOutput.array([.object([("type", .string("text")), ("text", .string(message))])])
      return "{\"content\":\(Self.compact(content)),\"structuredContent\":"
        + Self.compact(.object([("error", .string(message)), ("exit_status", .integer(Int64(status.rawValue)))]))
        + ",\"isError\":true\(complete)}"
    }
    // structuredContent is an object: a command that prints an array (presets) is wrapped.
    let structured = parsed is [Any] ? "{\"items\":\(Self.compactPrinted(output))}" : Self.compactPrinted(output)
    let summary = MCPSummary.text(tool: tool.name, parsed)
    let content = JSONOutput.array([.object([("type", .string("text")), ("text", .string(summary))])])
    return "{\"content\":\(Self.compact(content)),\"structuredContent\":\(structured),\"isError\":false\(complete)}"
  }

  // Computed, not a stored global: an enum payload held in a global reads as a leak to LeakSanitizer.
  static var capabilities: JSONOutput { .object([("tools", .object([("listChanged", .bool(false))]))]) }
  static var serverInfo: JSONOutput {
    .object([
      ("name", .string("qlora-budget")),
      ("version", .string(String(HelpText.version.split(separator: " ").last ?? ""))),
    ])
  }

  /// `JSONOutput` on one line.
  static func compact(_ value: JSONOutput) -> String { compactPrinted(value.rendered()) }

  /// A pretty-printed document on one line: strings never hold a raw newline (they are
  /// escaped), so dropping each line's indentation and the newlines changes nothing else.
  static func compactPrinted(_ text: String) -> String {
    text.split(separator: "\n").map { $0.drop(while: { $0 == " " }) }.joined()
  }

  static func line(_ head: [(String, JSONOutput)], result: String) -> String {
    "{" + head.map { JSONOutput.quoted($0.0) + ":" + compact($0.1) }.joined(separator: ",") + ",\"result\":" + result
      + "}"
  }

  static func error(id: JSONOutput, _ error: MCPError) -> String {
    var members: [(String, JSONOutput)] = [("code", .integer(Int64(error.code))), ("message", .string(error.message))]
    if let data = error.data { members.append(("data", data)) }
    return compact(.object([("jsonrpc", .string("2.0")), ("id", id), ("error", .object(members))]))
  }
}

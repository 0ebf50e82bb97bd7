import Foundation

/// One JSON-RPC 2.0 message as the MCP server reads it: a request (with an id), a
/// notification (without), or why it is neither.
enum MCPMessage {
  case request(id: JSONOutput, method: String, params: [String: Any])
  case notification(method: String)
  /// Answered with this error (`id` null when none could be read).
  case invalid(id: JSONOutput, error: MCPError)

  init(_ line: Data) {
    guard let object = try? JSONSerialization.jsonObject(with: line, options: []) else {
      self = .invalid(id: .null, error: .parse)
      return
    }
    guard let members = object as? [String: Any] else {
      self = .invalid(id: .null, error: .invalidRequest("a message is one JSON object (batches are not part of MCP)"))
      return
    }
    let id = members["id"].flatMap(Self.id)
    guard members["jsonrpc"] as? String == "2.0" else {
      self = .invalid(id: id ?? .null, error: .invalidRequest("'jsonrpc' must be \"2.0\""))
      return
    }
    guard let method = members["method"] as? String else {
      self = .invalid(id: id ?? .null, error: .invalidRequest("'method' must be a string"))
      return
    }
    var params: [String: Any] = [:]
    if let given = members["params"] {
      guard let object = given as? [String: Any] else {
        self = .invalid(id: id ?? .null, error: .invalidParams("'params' must be an object"))
        return
      }
      params = object
    }
    if members["id"] == nil {
      self = .notification(method: method)
    } else if let id {
      self = .request(id: id, method: method, params: params)
    } else {
      self = .invalid(id: .null, error: .invalidRequest("'id' must be a string or an integer"))
    }
  }

  /// A request id: a string or an integer (JSON-RPC also allows other numbers; MCP does not).
  static func id(_ value: Any) -> JSONOutput? {
    if let text = value as? String { return .string(text) }
    if let number = value as? NSNumber, !MCPArguments.isBoolean(number) {
      let double = number.doubleValue
      if double == double.rounded(), abs(double) < 9e15 { return .integer(Int64(double)) }
    }
    return nil
  }
}

/// A JSON-RPC error the server answers with.
struct MCPError: Error, Equatable {
  let code: Int
  let message: String
  var data: JSONOutput? = nil

  static let parse = MCPError(code: -32700, message: "Parse error: the line is not JSON")
  static let lineTooLong = MCPError(
    code: -32600, message: "Invalid Request: the line is longer than \(MCPLineReader.maximumLineBytes) bytes")
  static func invalidRequest(_ reason: String) -> MCPError {
    MCPError(code: -32600, message: "Invalid Request: \(reason)")
  }
  static func methodNotFound(_ method: String) -> MCPError {
    MCPError(code: -32601, message: "Method not found: \(method)")
  }
  static func invalidParams(_ reason: String) -> MCPError {
    MCPError(code: -32602, message: "Invalid params: \(reason)")
  }
  static func unsupportedVersion(_ requested: String, supported: [String]) -> MCPError {
    MCPError(
      code: -32022, message: "Unsupported protocol version: \(requested)",
      data: .object([("supported", .array(supported.map { .string($0) })), ("requested", .string(requested))]))
  }

  static func == (a: MCPError, b: MCPError) -> Bool { a.code == b.code && a.message == b.message }
}

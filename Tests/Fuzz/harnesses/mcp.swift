// libFuzzer harness: the MCP server's message reader (Commands/MCP: MCPLineReader, MCPMessage,
// MCPServer) on arbitrary bytes, split into chunks where the input has 0xFF bytes (a pipe
// delivers data in pieces). Compiled into the command layer's module (Tests/Fuzz/run.sh); tools
// run a stub command, so the fuzzer exercises reading, dispatch and argument mapping only.
//
// Checks: every reply is one line of JSON, JSON-RPC 2.0, with a result or an error; no more
// replies than lines; no crash, no hang.
import Foundation

private var server: MCPServer { MCPServer(runCommand: { _ in (.success, "{\n  \"verdict\": \"fits\"\n}\n", "") }) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMCP(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let data = Data(bytes: start, count: count)
  var reader = MCPLineReader()
  var lines: [MCPLineReader.Line] = []
  for chunk in data.split(separator: 0xFF, omittingEmptySubsequences: false) { lines += reader.feed(Data(chunk)) }
  lines += reader.finish()
  let newlines = data.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
  require(lines.count <= newlines + 1, "\(lines.count) lines from \(newlines) newlines")
  for line in lines {
    guard let reply = server.reply(to: line) else { continue }
    require(!reply.contains("\n"), "a reply on more than one line: \(reply)")
    guard let object = try? JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any] else {
      require(false, "a reply that is not a JSON object: \(reply)")
      continue
    }
    require(object["jsonrpc"] as? String == "2.0", "a reply without jsonrpc 2.0: \(reply)")
    require(
      (object["result"] != nil) != (object["error"] != nil), "a reply with neither or both result and error: \(reply)")
  }
  return 0
}

/// Reports a broken invariant with its message (kept in optimized builds) and aborts.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
  guard !condition else { return }
  FileHandle.standardError.write(Data("fuzz invariant broken: \(message())\n".utf8))
  abort()
}

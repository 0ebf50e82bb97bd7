import Foundation
import QLoRABudget
import Testing

@testable import qlora_budget

/// `qlora-budget mcp` as an MCP client sees it (the built binary over stdin/stdout), and its
/// line reader and message handling in-process.
@Suite struct MCPServerTests {
  static func request(_ id: Int, _ method: String, _ params: String = "{}") -> String {
    "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"\(method)\",\"params\":\(params)}"
  }

  /// Sends `lines` to `qlora-budget mcp` and returns its replies by id (a reply without an id,
  /// to an unreadable line, under "null").
  static func session(_ lines: [String]) throws -> [String: [String: Any]] {
    let input = Data((lines.joined(separator: "\n") + "\n").utf8)
    let result = try DiagnoseCommandTests.run(["mcp"], input: input)
    #expect(result.status == 0, "\(result.standardError)")
    var replies: [String: [String: Any]] = [:]
    for line in result.standardOutput.split(separator: "\n") {
      let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      #expect(object["jsonrpc"] as? String == "2.0")
      replies["\(object["id"].map { $0 is NSNull ? "null" : "\($0)" } ?? "none")"] = object
    }
    return replies
  }

  /// The client script of the issue: initialize, tools/list lists fit, and tools/call fit
  /// returns the verdict `fit --json` prints, with the same JSON as structuredContent.
  @Test func aClientSessionGetsTheVerdictFitPrints() throws {
    let replies = try Self.session([
      Self.request(
        1, "initialize",
        #"{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}"#),
      #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
      Self.request(2, "tools/list"),
      Self.request(
        3, "tools/call",
        #"{"name":"fit","arguments":{"model":"qwen3-8b","gpu":"rtx-4090","seq_len":4096,"optimizer":"paged-adamw-8bit","grad_ckpt":true}}"#
      ),
    ])
    #expect(replies.count == 3)  // the notification gets no reply
    let initialize = try #require(replies["1"]?["result"] as? [String: Any])
    #expect(initialize["protocolVersion"] as? String == "2025-11-25")
    #expect((initialize["capabilities"] as? [String: Any])?["tools"] != nil)
    let tools = try #require((replies["2"]?["result"] as? [String: Any])?["tools"] as? [[String: Any]])
    #expect(tools.map { $0["name"] as? String } == ["fit", "estimate", "solve", "diagnose", "presets"])
    let fitSchema = try #require(tools.first?["inputSchema"] as? [String: Any])
    #expect((fitSchema["properties"] as? [String: Any])?["seq_len"] != nil)
    #expect(fitSchema["required"] as? [String] == ["gpu"])

    let call = try #require(replies["3"]?["result"] as? [String: Any])
    #expect(call["isError"] as? Bool == false)
    let structured = try #require(call["structuredContent"] as? [String: Any])
    let cli = try BinaryRunner.json(
      try BinaryRunner.run(
        [
          "fit", "qwen3-8b", "--gpu", "rtx-4090", "--seq-len", "4096", "--optimizer", "paged-adamw-8bit", "--grad-ckpt",
          "true", "--json",
        ]))
    #expect(structured["verdict"] as? String == cli["verdict"] as? String)
    #expect((structured["peak_process_bytes"] as? NSNumber) == (cli["peak_process_bytes"] as? NSNumber))
    #expect(NSDictionary(dictionary: structured).isEqual(to: cli))
    let text = try #require((call["content"] as? [[String: Any]])?.first?["text"] as? String)
    #expect(text.contains("usable: \((cli["verdict"] as? String ?? "").replacingOccurrences(of: "_", with: " "))"))
    // A verdict that is not fits names the planner's changes fit printed, first one first.
    if let first = (cli["changes"] as? [[String: Any]])?.first?["option"] as? String {
      #expect(text.contains("; single changes that fit: " + first))
    }
  }

  /// A tight peak above the capacity (Qwen3-14B r=32 on an L4, 23,840,423,936 B against
  /// 23,675,797,504 B) is summarised with the process peak the run completes at, as fit prints it.
  @Test func aTightPeakOverTheCapacityIsSummarisedWithItsCompletion() throws {
    let fit = try BinaryRunner.json(
      try BinaryRunner.run(["fit", "qwen3-14b", "--rank", "32", "--gpu", "l4", "--json"]))
    #expect(fit["verdict"] as? String == "tight")
    #expect((fit["peak_process_bytes"] as? Int64 ?? 0) > 23_675_797_504)
    let completing = try #require(fit["completing_process_bytes"] as? Int64)
    #expect(
      MCPSummary.text(tool: "fit", fit).contains(
        "usable: tight (over as simulated; completes at about \(ByteCount(completing).formatted(.binary)) with "
          + "the cache released)"))
  }

  /// The 2026-07-28 revision: no handshake; server/discover and requests naming their revision
  /// in _meta; results say resultType complete; an unknown revision is refused.
  @Test func theStatelessRevision() throws {
    let meta = #""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}"#
    let replies = try Self.session([
      Self.request(1, "server/discover", "{\(meta)}"),
      Self.request(
        2, "tools/call",
        #"{"# + meta
          + #","name":"diagnose","arguments":{"message":"CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 6.00 GiB total capacity; 1.00 GiB already allocated; 1.50 GiB free; 2.25 GiB reserved in total by PyTorch)"}}"#
      ),
      Self.request(3, "tools/list", #"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}"#),
    ])
    let discover = try #require(replies["1"]?["result"] as? [String: Any])
    #expect((discover["supportedVersions"] as? [String])?.first == "2026-07-28")
    let call = try #require(replies["2"]?["result"] as? [String: Any])
    #expect(call["resultType"] as? String == "complete")
    let message = try #require(((call["structuredContent"] as? [String: Any])?["messages"] as? [[String: Any]])?.first)
    // 2.00 GiB = 2 x 2^30; 6.00 GiB = 6 x 2^30; 2.25 GiB = 9 x 2^28.
    #expect((message["tried_to_allocate_bytes"] as? NSNumber)?.int64Value == 2 << 30)
    #expect((message["total_capacity_bytes"] as? NSNumber)?.int64Value == 6 << 30)
    #expect((message["reserved_by_pytorch_bytes"] as? NSNumber)?.int64Value == 9 << 28)
    let refused = try #require(replies["3"]?["error"] as? [String: Any])
    #expect(refused["code"] as? Int == -32022)
  }

  /// Errors are JSON-RPC errors, and the server goes on after each.
  @Test func errorsAreAnsweredNotFatal() throws {
    let replies = try Self.session([
      "{not json",
      Self.request(1, "no/such/method"),
      Self.request(2, "tools/call", #"{"name":"nope"}"#),
      Self.request(3, "tools/call", #"{"name":"fit","arguments":{"model":"qwen3-8b","gpu":"rtx-4090","rnak":3}}"#),
      Self.request(4, "tools/call", #"{"name":"diagnose","arguments":{"message":"-"}}"#),
      Self.request(5, "tools/call", #"{"name":"fit","arguments":{"model":"qwen3-8c","gpu":"rtx-4090"}}"#),
      "[" + Self.request(6, "ping") + "]",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":{\"pad\":\""
        + String(repeating: "x", count: MCPLineReader.maximumLineBytes) + "\"}}",
      Self.request(8, "ping"),
    ])
    #expect((replies["null"]?["error"] as? [String: Any])?["code"] as? Int != nil)
    #expect((replies["1"]?["error"] as? [String: Any])?["code"] as? Int == -32601)
    #expect((replies["2"]?["error"] as? [String: Any])?["code"] as? Int == -32602)
    #expect(
      (replies["3"]?["error"] as? [String: Any])?["message"] as? String
        == "Invalid params: unknown argument 'rnak' for fit")
    #expect((replies["4"]?["error"] as? [String: Any])?["code"] as? Int == -32602)
    // A command that refuses is a tool result with isError and the command's message.
    let refused = try #require(replies["5"]?["result"] as? [String: Any])
    #expect(refused["isError"] as? Bool == true)
    #expect(
      ((refused["content"] as? [[String: Any]])?.first?["text"] as? String)?.hasPrefix("unknown model 'qwen3-8c'")
        == true)
    #expect(replies["8"]?["result"] != nil)
  }

  @Test func lineReaderBoundsAndSplits() {
    var reader = MCPLineReader()
    #expect(reader.feed(Data("{\"a\":1}\r\n  \n{\"b\"".utf8)) == [.message(Data("{\"a\":1}".utf8))])
    #expect(reader.feed(Data(":2}\n".utf8)) == [.message(Data("{\"b\":2}".utf8))])
    let long = Data(repeating: UInt8(ascii: "x"), count: MCPLineReader.maximumLineBytes + 1)
    #expect(reader.feed(long) == [])
    #expect(reader.feed(Data("x\n{}\n".utf8)) == [.tooLong, .message(Data("{}".utf8))])
    #expect(reader.feed(Data("{}".utf8)) == [])
    #expect(reader.finish() == [.message(Data("{}".utf8))])
  }

  /// The fuzz corpus and regressions of the message reader (Tests/Fuzz/{corpus,regressions}/mcp)
  /// through the harness's checks.
  @Test func fuzzInputs() throws {
    let inputs = CLIFuzzRegressionTests.inputs("corpus", "mcp") + CLIFuzzRegressionTests.inputs("regressions", "mcp")
    #expect(!inputs.isEmpty)
    for url in inputs {
      let replies = MCPFuzzCheck.replies(to: try Data(contentsOf: url))
      for reply in replies { #expect(MCPFuzzCheck.isSound(reply), "\(url.lastPathComponent): \(reply)") }
    }
  }
}

/// The MCP harness's checks (Tests/Fuzz/harnesses/mcp.swift): the input read as a stream of
/// lines, each reply one line of JSON-RPC 2.0 with a result or an error.
enum MCPFuzzCheck {
  static var server: MCPServer { MCPServer(runCommand: { _ in (.success, "{\n  \"verdict\": \"fits\"\n}\n", "") }) }

  static func replies(to data: Data) -> [String] {
    var reader = MCPLineReader()
    return (reader.feed(data) + reader.finish()).compactMap(server.reply)
  }

  static func isSound(_ reply: String) -> Bool {
    guard !reply.contains("\n"),
      let object = try? JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any]
    else {
      return false
    }
    return object["jsonrpc"] as? String == "2.0" && (object["result"] != nil) != (object["error"] != nil)
  }
}

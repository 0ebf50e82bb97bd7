import Foundation
import QLoRABudget
import QLoRABudgetInputs

/// `qlora-budget mcp`: a Model Context Protocol server on stdin/stdout (docs/mcp.md). Each
/// tool runs the CLI command of the same name in-process with `--json`.
enum MCPCommand: Command {
  static let name = "mcp"
  static let summary = "Serve fit, estimate, solve, diagnose and presets to MCP clients (stdio)."
  static let arguments = "[--presets <dir>]"
  static let options: [OptionSpec] = []

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    try arguments.expectPositionals(atMost: 0)
    let server = MCPServer(runCommand: { line in
      var output = ""
      var errors = ""
      let inner = CommandContext(
        standardOutput: { output += $0 }, standardError: { errors += $0 }, environment: context.environment,
        presets: context.presets, usesColor: false)
      let status = CommandLineTool.run(line, context: inner)
      return (status, output, errors)
    })
    var reader = MCPLineReader()
    let input = FileHandle.standardInput
    while true {
      let chunk = input.availableData
      let lines = chunk.isEmpty ? reader.finish() : reader.feed(chunk)
      for line in lines {
        if let reply = server.reply(to: line) { context.standardOutput(reply + "\n") }
      }
      if chunk.isEmpty { return .success }
    }
  }
}

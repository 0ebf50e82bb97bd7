/// Every subcommand, in the order `qlora-budget help` lists them. One line per command.
enum CommandTable {
  static let all: [any Command.Type] = [
    FitCommand.self,
    EstimateCommand.self,
    SolveCommand.self,
    CompareCommand.self,
    TableCommand.self,
    CompletionsCommand.self,
    PresetsCommand.self,
    DiagnoseCommand.self, MCPCommand.self,
    InspectCommand.self, QuantizeCommand.self, QuantizeCheckCommand.self,
    ValidateCommand.self,
  ]

  static func command(named name: String) -> (any Command.Type)? {
    all.first { $0.name == name }
  }
}

import QLoRABudget

/// How a training config was read: each key used and what it set, the framework defaults
/// applied, what is not modelled, and the keys ignored (text within 80 columns, and JSON).
enum ConfigSummary {
  /// Paths, keys and values come from the file: control characters in them are shown escaped.
  static func text(_ config: TrainingConfig) -> [String] {
    lines(config).map(CommandLineTool.oneLine)
  }

  private static func lines(_ config: TrainingConfig) -> [String] {
    var lines = ["Config: \(config.path) (\(config.format.rawValue))"]
    if let key = config.modelKey, let model = config.model { lines.append("  model    \(place(key)) \(model)") }
    for use in config.used {
      lines += wrapped("  used     ", "\(place(use.key)) \(use.value) -> " + use.effect)
    }
    if !config.defaults.isEmpty {
      let defaults = config.defaults.map { "\($0.key.name) \($0.value)" }.joined(separator: ", ")
      lines += wrapped("  defaults ", "\(config.format.rawValue)'s own: " + defaults)
    }
    for note in config.notModelled {
      lines += wrapped("  not modelled ", "\(place(note.key)) \(note.note)")
    }
    if !config.ignored.isEmpty {
      lines += wrapped("  ignored  ", config.ignored.map { "\($0.name) (\($0.line))" }.joined(separator: ", "))
    }
    if !config.emptyKeys.isEmpty {
      lines += wrapped("  empty    ", config.emptyKeys.map(\.name).joined(separator: ", "))
    }
    return lines
  }

  static func json(_ config: TrainingConfig) -> JSONOutput {
    func key(_ key: TrainingConfig.Key) -> [(String, JSONOutput)] { [("key", .string(key.name)), ("line", .integer(Int64(key.line)))] }
    func uses(_ uses: [TrainingConfig.Use]) -> JSONOutput {
      .array(uses.map { .object(key($0.key) + [("value", .string($0.value)), ("sets", .string($0.effect))]) })
    }
    return .object([
      ("path", .string(config.path)), ("format", .string(config.format.rawValue)),
      ("model", config.model.map { .string($0) } ?? .null),
      ("used", uses(config.used)), ("defaults", uses(config.defaults)),
      ("not_modelled", .array(config.notModelled.map { .object(key($0.key) + [("note", .string($0.note))]) })),
      ("ignored", .array(config.ignored.map { .object(key($0)) })),
      ("empty", .array(config.emptyKeys.map { .object(key($0)) })),
      ("shards_over_gpus", .bool(config.shardsOverGPUs)),
    ])
  }

  private static func place(_ key: TrainingConfig.Key) -> String {
    key.line > 0 ? "\(key.name) (line \(key.line))" : "\(key.name) (not in the file)"
  }

  /// `text` wrapped to 80 columns after `label`, continuation lines indented under it.
  private static func wrapped(_ label: String, _ text: String) -> [String] {
    let indent = String(repeating: " ", count: label.count)
    return HelpText.wrap(text, width: 80 - label.count).enumerated().map { ($0.offset == 0 ? label : indent) + $0.element }
  }
}

import QLoRABudget
import QLoRABudgetInputs

/// How a training config was read: each key used and what it set, the framework defaults
/// applied, what is not modelled, the keys a flag overrode and the keys ignored (text within 80
/// columns, and JSON). With a pre-quantized checkpoint, its `quantization_config` the same way.
struct ConfigSummary {
  /// A change made after the config, as the command line shows where it came from: a flag as
  /// typed (`--rank 64`), or the checkpoint's key.
  typealias Source = (flag: String, change: SettingChange)

  /// The config after the later changes (``TrainingConfig/overridden(by:)``), if one was read.
  let config: TrainingConfig?
  let checkpoint: CheckpointQuantization?
  /// The checkpoint's changes, then the flags' (the order they apply in).
  let sources: [Source]
  /// The flags' changes alone: what overrides the checkpoint.
  private let flagSources: [Source]

  /// The accounting for `config` and `model`'s checkpoint once `flags` are applied.
  init(config: TrainingConfig?, model: ModelArchitecture, flags: [Source]) {
    checkpoint = model.checkpointQuantization
    let fromCheckpoint = (checkpoint?.fields ?? []).map { (flag: "the checkpoint's " + $0.key, change: $0.change) }
    sources = fromCheckpoint + flags
    self.config = config?.overridden(by: sources.map(\.change))
    flagSources = flags
  }

  /// Paths, keys and values come from the files: control characters in them are shown escaped.
  var text: [String] { lines.map(CommandLineTool.oneLine) }

  private var lines: [String] {
    var lines: [String] = []
    if let checkpoint {
      let split = checkpoint.overridden(by: flagSources.map(\.change))
      lines.append("Checkpoint: config.json quantization_config (\(checkpoint.method))")
      for field in split.used {
        lines += Self.wrapped("  used     ", "\(field.key) \(field.value) -> \(Self.sets(field.change))")
      }
      for (field, change) in split.overridden {
        lines += Self.wrapped("  overridden ", "\(field.key) \(field.value) by \(flag(change)) (\(Self.sets(change)))")
      }
      if !checkpoint.keptUnquantized.isEmpty {
        lines += Self.wrapped(
          "  unquantized ",
          "llm_int8_skip_modules keeps " + checkpoint.keptUnquantized.joined(separator: ", ")
            + " (counted with the unquantized weights)")
      }
      for note in checkpoint.notes { lines += Self.wrapped("  not modelled ", note) }
    }
    guard let config else { return lines }
    lines.append("Config: \(config.path) (\(config.format.rawValue))")
    if let key = config.modelKey, let model = config.model { lines.append("  model    \(Self.place(key)) \(model)") }
    for use in config.used {
      lines += Self.wrapped("  used     ", "\(Self.place(use.key)) \(use.value) -> " + use.effect)
    }
    for override in config.overridden {
      lines += Self.wrapped(
        "  overridden ",
        "\(Self.place(override.key)) \(override.value) by \(flag(override.change)) (\(Self.sets(override.change)))")
    }
    if !config.defaults.isEmpty {
      let defaults = config.defaults.map { "\($0.key.name) \($0.value)" }.joined(separator: ", ")
      lines += Self.wrapped("  defaults ", "\(config.format.rawValue)'s own: " + defaults)
    }
    for note in config.notModelled {
      lines += Self.wrapped("  not modelled ", "\(Self.place(note.key)) \(note.note)")
    }
    if !config.ignored.isEmpty {
      lines += Self.wrapped("  ignored  ", config.ignored.map { "\($0.name) (\($0.line))" }.joined(separator: ", "))
    }
    if !config.emptyKeys.isEmpty {
      lines += Self.wrapped("  empty    ", config.emptyKeys.map(\.name).joined(separator: ", "))
    }
    return lines
  }

  /// The config's accounting as JSON (null without a config).
  var json: JSONOutput {
    guard let config else { return .null }
    func key(_ key: TrainingConfig.Key) -> [(String, JSONOutput)] {
      [("key", .string(key.name)), ("line", .integer(Int64(key.line)))]
    }
    func uses(_ uses: [TrainingConfig.Use]) -> JSONOutput {
      .array(uses.map { .object(key($0.key) + [("value", .string($0.value)), ("sets", .string($0.effect))]) })
    }
    let overridden = config.overridden.map { override -> JSONOutput in
      .object(
        key(override.key) + [
          ("value", .string(override.value)), ("flag", .string(flag(override.change))),
          ("sets", .string(Self.sets(override.change))),
        ])
    }
    return .object([
      ("path", .string(config.path)), ("format", .string(config.format.rawValue)),
      ("model", config.model.map { .string($0) } ?? .null),
      ("used", uses(config.used)), ("overridden", .array(overridden)), ("defaults", uses(config.defaults)),
      ("not_modelled", .array(config.notModelled.map { .object(key($0.key) + [("note", .string($0.note))]) })),
      ("ignored", .array(config.ignored.map { .object(key($0)) })),
      ("empty", .array(config.emptyKeys.map { .object(key($0)) })),
      ("shards_over_gpus", .bool(config.shardsOverGPUs)),
    ])
  }

  /// The checkpoint's quantization_config as JSON, nil without one.
  var checkpointJSON: JSONOutput? {
    guard let checkpoint else { return nil }
    let split = checkpoint.overridden(by: flagSources.map(\.change))
    return .object([
      ("method", .string(checkpoint.method)),
      (
        "used",
        .array(
          split.used.map {
            .object([("key", .string($0.key)), ("value", .string($0.value)), ("sets", .string(Self.sets($0.change)))])
          })
      ),
      (
        "overridden",
        .array(
          split.overridden.map { field, change in
            .object([
              ("key", .string(field.key)), ("value", .string(field.value)), ("flag", .string(flag(change))),
              ("sets", .string(Self.sets(change))),
            ])
          })
      ),
      ("kept_unquantized", .array(checkpoint.keptUnquantized.map { .string($0) })),
      ("not_modelled", .array(checkpoint.notes.map { .string($0) })),
    ])
  }

  /// The JSON members fit, estimate, solve and compare add: `config` and
  /// `checkpoint_quantization`, each when there is one.
  var jsonMembers: [(String, JSONOutput)] {
    (config == nil ? [] : [("config", json)]) + (checkpointJSON.map { [("checkpoint_quantization", $0)] } ?? [])
  }

  /// Where `change` came from, as typed.
  private func flag(_ change: SettingChange) -> String {
    sources.last { $0.change == change }?.flag ?? change.setting.rawValue
  }

  private static func sets(_ change: SettingChange) -> String { "\(change.setting.rawValue) \(change.valueText)" }

  private static func place(_ key: TrainingConfig.Key) -> String {
    key.line > 0 ? "\(key.name) (line \(key.line))" : "\(key.name) (not in the file)"
  }

  /// `text` wrapped to 80 columns after `label`, continuation lines indented under it.
  private static func wrapped(_ label: String, _ text: String) -> [String] {
    let indent = String(repeating: " ", count: label.count)
    return HelpText.wrap(text, width: 80 - label.count).enumerated().map {
      ($0.offset == 0 ? label : indent) + $0.element
    }
  }
}

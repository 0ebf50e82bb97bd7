import Foundation
import QLoRABudget

/// Reads typed values out of a config's key tree and keeps account of every key: each value
/// read is recorded as used (with the settings it changed) or not modelled (with a note), and
/// ``unusedKeys()`` lists the rest. The framework readers (one file each) are extensions.
struct ConfigReading {
  typealias Key = TrainingConfig.Key

  let path: String
  let root: [YAMLEntry]
  var model: String?
  var modelKey: Key?
  var used: [TrainingConfig.Use] = []
  var defaults: [TrainingConfig.Use] = []
  var notModelled: [TrainingConfig.Note] = []
  var shardsOverGPUs = false
  /// The DeepSpeed config file a `deepspeed` key names, when it was found and read.
  var deepSpeedConfig: Data?
  /// Dotted paths read, used or noted.
  private var consumed: Set<String> = []

  init(path: String, root: [YAMLEntry]) {
    self.path = path
    self.root = root
  }

  // MARK: - Finding keys

  /// The entry at a dotted path (`model.lora_rank`), null values included.
  func entry(_ keyPath: String) -> YAMLEntry? {
    var entries = root
    var found: YAMLEntry?
    for component in keyPath.split(separator: ".", omittingEmptySubsequences: false) {
      guard let next = entries.first(where: { $0.key == component }) else { return nil }
      found = next
      entries = next.value.entries ?? []
    }
    return found
  }

  /// The value at a dotted path, nil when absent or empty.
  func node(_ keyPath: String) -> YAMLNode? {
    guard let value = entry(keyPath)?.value, !value.isNull else { return nil }
    return value
  }

  func has(_ keyPath: String) -> Bool { node(keyPath) != nil }

  func key(_ keyPath: String) -> Key { Key(name: keyPath, line: entry(keyPath)?.line ?? 0) }

  // MARK: - Typed values (each an error naming the key, the file and the line)

  func invalid(_ keyPath: String, _ message: String) -> TrainingConfigError {
    let shown = node(keyPath).map { Self.shown($0) }.map { "the value \($0) is invalid: " } ?? ""
    return TrainingConfigError(path: path, line: entry(keyPath)?.line, key: keyPath, shown + message)
  }

  func integer(_ keyPath: String, in range: ClosedRange<Int64>) throws(TrainingConfigError) -> Int64? {
    guard let value = node(keyPath) else { return nil }
    guard let number = value.integerValue ?? value.numberValue.flatMap({ Int64(exactly: $0) }) else {
      throw invalid(keyPath, "expected a whole number" + Self.quotedNumberHint(value))
    }
    guard range.contains(number) else {
      throw invalid(keyPath, "must be between \(range.lowerBound) and \(range.upperBound)")
    }
    return number
  }

  func number(_ keyPath: String, in range: ClosedRange<Double>) throws(TrainingConfigError) -> Double? {
    guard let value = node(keyPath) else { return nil }
    guard let number = value.numberValue else {
      throw invalid(keyPath, "expected a number" + Self.quotedNumberHint(value))
    }
    guard range.contains(number) else {
      throw invalid(keyPath, "must be between \(range.lowerBound) and \(range.upperBound)")
    }
    return number
  }

  /// Why a number in quotes is refused: YAML reads it as text, and the frameworks differ on
  /// whether they convert it back (axolotl's pydantic models do; llama-factory's dataclasses and
  /// torchtune's components take the text as it is).
  private static func quotedNumberHint(_ value: YAMLNode) -> String {
    guard case .scalar(let text, isQuoted: true) = value.content,
      YAMLNode(.scalar(text, isQuoted: false), line: value.line).numberValue != nil
    else { return "" }
    return " (it is in quotes, which YAML reads as text: write \(text) without them)"
  }

  func bool(_ keyPath: String) throws(TrainingConfigError) -> Bool? {
    guard let value = node(keyPath) else { return nil }
    guard let flag = value.boolValue else { throw invalid(keyPath, "expected true or false") }
    return flag
  }

  func text(_ keyPath: String) throws(TrainingConfigError) -> String? {
    guard let value = node(keyPath) else { return nil }
    guard let text = value.scalarText else {
      throw invalid(keyPath, "expected a single value, not a list or a mapping")
    }
    return text
  }

  /// A list of names: a sequence of scalars, or one scalar with names joined by commas.
  func names(_ keyPath: String) throws(TrainingConfigError) -> [String]? {
    guard let value = node(keyPath) else { return nil }
    let names: [String]
    if let elements = value.elements {
      var list: [String] = []
      for element in elements {
        guard let name = element.scalarText else { throw invalid(keyPath, "expected a list of names") }
        list.append(name)
      }
      names = list
    } else if let text = value.scalarText {
      names = text.split(separator: ",").map { $0.trimmingHorizontalWhitespace() }
    } else {
      throw invalid(keyPath, "expected a list of names")
    }
    let cleaned = names.filter { !$0.isEmpty }
    guard !cleaned.isEmpty else { throw invalid(keyPath, "expected at least one name") }
    return cleaned
  }

  // MARK: - Accounting

  /// Records the key as used, with the settings it changed.
  mutating func use(_ keyPath: String, _ changes: SettingChange...) {
    consumed.insert(keyPath)
    used.append(
      TrainingConfig.Use(key: key(keyPath), value: node(keyPath).map(Self.shown) ?? "", changes: changes, remark: nil))
  }

  /// Records the key as used without changing a setting, saying what it means for the estimate.
  mutating func use(_ keyPath: String, remark: String) {
    consumed.insert(keyPath)
    used.append(
      TrainingConfig.Use(key: key(keyPath), value: node(keyPath).map(Self.shown) ?? "", changes: [], remark: remark))
  }

  /// Records a framework default for a key the file leaves out.
  mutating func useDefault(_ keyName: String, _ value: String, _ changes: SettingChange...) {
    defaults.append(TrainingConfig.Use(key: Key(name: keyName, line: 0), value: value, changes: changes, remark: nil))
  }

  /// Records the key as recognised but not modelled, with the nearest settings estimated instead.
  mutating func note(_ keyPath: String, _ note: String, _ nearest: SettingChange...) {
    consumed.insert(keyPath)
    // A value quoted into the note may hold escaped control characters: keep the note one line.
    let printable = String(
      String.UnicodeScalarView(note.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
    notModelled.append(TrainingConfig.Note(key: key(keyPath), note: printable, changes: nearest))
  }

  /// Records a key read that changes nothing here (a switch that is off, a value another key
  /// decides), saying why; an absent or empty key, or one already recorded, is left alone.
  mutating func consume(_ keyPath: String, _ remark: String) {
    guard has(keyPath), !consumed.contains(keyPath) else { return }
    use(keyPath, remark: remark)
  }

  /// Whether the key was recorded (used, noted or consumed).
  func isRecorded(_ keyPath: String) -> Bool { consumed.contains(keyPath) }

  /// Defaults the file's own keys replace are not listed: a default is what was applied
  /// because the file is silent.
  mutating func dropReplacedDefaults() {
    let set = Set((used.flatMap(\.changes) + notModelled.flatMap(\.changes)).map(\.setting))
    defaults = defaults.compactMap { use in
      let kept = use.changes.filter { !set.contains($0.setting) }
      return kept.isEmpty ? nil : TrainingConfig.Use(key: use.key, value: use.value, changes: kept, remark: use.remark)
    }
  }

  mutating func setModel(_ keyPath: String) throws(TrainingConfigError) {
    guard let name = try text(keyPath) else { return }
    model = name
    modelKey = key(keyPath)
    consumed.insert(keyPath)
  }

  /// Keys neither used nor noted, and keys with empty values. A mapping some of whose keys
  /// were read is looked into; one none of whose keys were read is listed whole.
  func unusedKeys() -> (ignored: [Key], empty: [Key]) {
    var ignored: [Key] = []
    var empty: [Key] = []
    func visit(_ entries: [YAMLEntry], prefix: String) {
      for entry in entries {
        let keyPath = prefix + entry.key
        if consumed.contains(keyPath) { continue }
        if entry.value.isNull {
          empty.append(Key(name: keyPath, line: entry.line))
        } else if let children = entry.value.entries, consumed.contains(where: { $0.hasPrefix(keyPath + ".") }) {
          visit(children, prefix: keyPath + ".")
        } else {
          ignored.append(Key(name: keyPath, line: entry.line))
        }
      }
    }
    visit(root, prefix: "")
    return (ignored, empty)
  }

  /// A value as messages show it: quoted scalars, lists in brackets, at most 60 characters.
  static func shown(_ node: YAMLNode) -> String {
    let text: String
    switch node.content {
    case .scalar(let value, _): text = "'\(value)'"
    case .sequence(let elements): text = "[" + elements.map { $0.scalarText ?? "..." }.joined(separator: ", ") + "]"
    case .mapping(let entries): text = "{" + entries.map(\.key).joined(separator: ", ") + "}"
    }
    let escaped = text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : String($0) }.joined()
    return escaped.count > 60 ? String(escaped.prefix(57)) + "..." : escaped
  }
}

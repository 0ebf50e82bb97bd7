import QLoRABudget

/// A value read by ``YAMLReader``: a scalar, a sequence or a mapping, with the line it starts on
/// so that a config reader can name the line of a value it refuses.
///
/// Scalars keep their text as written; the reader does not guess types. A config reader asks for
/// the type it needs (``boolValue``, ``integerValue``, ...) and says which key and line did not
/// hold one.
public struct YAMLNode: Hashable, Sendable {
  public enum Content: Hashable, Sendable {
    /// The text of a scalar; `isQuoted` when it was written in quotes (a quoted "null" is text).
    case scalar(String, isQuoted: Bool)
    case sequence([YAMLNode])
    case mapping([YAMLEntry])
  }

  public let content: Content
  /// 1-based line the value starts on.
  public let line: Int

  public init(_ content: Content, line: Int) {
    self.content = content
    self.line = line
  }

  /// An unquoted empty value, `~` or `null` (any capitalisation YAML accepts).
  public var isNull: Bool {
    guard case .scalar(let text, false) = content else { return false }
    return ["", "~", "null", "Null", "NULL"].contains(text)
  }

  /// The scalar's text, or nil for a sequence, a mapping or null.
  public var scalarText: String? {
    guard case .scalar(let text, _) = content, !isNull else { return nil }
    return text
  }

  /// `true`/`false` as YAML 1.1 readers (PyYAML, OmegaConf) accept them, or nil.
  public var boolValue: Bool? {
    guard case .scalar(let text, false) = content else { return nil }
    switch text.lowercased() {
    case "true", "yes", "on": return true
    case "false", "no", "off": return false
    default: return nil
    }
  }

  /// A whole number (an optional sign and digits, `_` separators allowed), or nil.
  public var integerValue: Int64? {
    guard case .scalar(let text, false) = content else { return nil }
    return Int64(text.replacingOccurrences(of: "_", with: ""))
  }

  /// A finite number, or nil.
  public var numberValue: Double? {
    guard case .scalar(let text, false) = content, let number = Double(text), number.isFinite else { return nil }
    return number
  }

  /// The entries of a mapping, or nil.
  public var entries: [YAMLEntry]? {
    guard case .mapping(let entries) = content else { return nil }
    return entries
  }

  /// The elements of a sequence, or nil.
  public var elements: [YAMLNode]? {
    guard case .sequence(let elements) = content else { return nil }
    return elements
  }

  /// The value of `key` in a mapping, or nil.
  public subscript(key: String) -> YAMLNode? {
    entries?.first { $0.key == key }?.value
  }
}

/// One `key: value` of a mapping. Keys are scalars (the subset refuses complex keys).
public struct YAMLEntry: Hashable, Sendable {
  public let key: String
  /// 1-based line of the key.
  public let line: Int
  public let value: YAMLNode

  public init(key: String, line: Int, value: YAMLNode) {
    self.key = key
    self.line = line
    self.value = value
  }
}

/// Text the YAML subset reader refuses, with the line it stopped on.
public struct YAMLError: Error, Hashable, Sendable, CustomStringConvertible {
  /// 1-based line.
  public let line: Int
  public let message: String

  public init(line: Int, _ message: String) {
    self.line = line
    self.message = message
  }

  public var description: String { "line \(line): \(message)" }
}

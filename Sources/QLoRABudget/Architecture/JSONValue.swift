import Foundation

/// A parsed JSON value, `Sendable` and `Hashable`, for readers of files people download
/// (config.json, presets). Parsing never traps: malformed input throws ``JSONValueError``.
package enum JSONValue: Hashable, Sendable {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  /// Parses UTF-8 JSON text (``JSONReader``). A key given twice in one object is refused
  /// (``JSONValueError/duplicateKey(_:)``), not read as the last one.
  public init(parsing data: Data) throws(JSONValueError) {
    self = try data.withUnsafeBytes { raw in
      Result { () throws(JSONValueError) in try JSONReader.value(of: raw.bindMemory(to: UInt8.self)) }
    }.get()
  }

  /// Parses JSON text held in a string, as ``init(parsing:)-(Data)`` parses its UTF-8 bytes.
  public init(parsing text: String) throws(JSONValueError) {
    var text = text
    self = try text.withUTF8 { bytes in Result { () throws(JSONValueError) in try JSONReader.value(of: bytes) } }
      .get()
  }

  /// The object's members, or nil when this is not an object.
  public var objectValue: [String: JSONValue]? {
    if case .object(let members) = self { return members }
    return nil
  }
}

/// Why a JSON text could not be read.
package enum JSONValueError: Error, Hashable, Sendable, CustomStringConvertible {
  case malformed(reason: String)
  /// A key appears twice in one object.
  case duplicateKey(String)

  public var description: String {
    switch self {
    case .malformed(let reason): return "malformed JSON: \(reason)"
    case .duplicateKey(let key): return "the key '\(key)' appears twice in one object"
    }
  }
}

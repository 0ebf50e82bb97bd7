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

  /// Parses UTF-8 JSON text. A key given twice in one object is refused
  /// (``JSONValueError/duplicateKey(_:)``), not read as the last one.
  public init(parsing data: Data) throws(JSONValueError) {
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    } catch {
      throw JSONValueError.malformed(reason: Self.describe(error))
    }
    if let key = JSONDuplicateKeys.first(in: data) { throw .duplicateKey(key) }
    self = try Self(foundation: object)
  }

  private init(foundation object: Any) throws(JSONValueError) {
    switch object {
    case is NSNull: self = .null
    case let string as String: self = .string(string)
    case let number as NSNumber:
      // JSON booleans arrive as NSNumber too; JSONSerialization gives them the `char`
      // type encoding ("c"), which it never uses for numbers (checked on Linux and macOS).
      if String(cString: number.objCType) == "c" {
        self = .bool(number.boolValue)
      } else {
        self = .number(number.doubleValue)
      }
    case let array as [Any]:
      var values: [JSONValue] = []
      values.reserveCapacity(array.count)
      for element in array { values.append(try JSONValue(foundation: element)) }
      self = .array(values)
    case let dictionary as [String: Any]:
      var values: [String: JSONValue] = [:]
      for (key, element) in dictionary { values[key] = try JSONValue(foundation: element) }
      self = .object(values)
    default:
      throw JSONValueError.malformed(reason: "unsupported value of type \(type(of: object))")
    }
  }

  /// The object's members, or nil when this is not an object.
  public var objectValue: [String: JSONValue]? {
    if case .object(let members) = self { return members }
    return nil
  }

  private static func describe(_ error: Error) -> String {
    let nsError = error as NSError
    if let detail = nsError.userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
    return "not valid JSON"
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

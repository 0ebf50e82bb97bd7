/// Typed, validated access to the members of a Hugging Face `config.json`.
///
/// Every read names its key in the error it throws, and every dimension is a whole number in
/// `1...maximumDimension`, so later arithmetic on shapes cannot overflow `Int64`.
struct ConfigReader {
  /// The largest accepted dimension (hidden size, vocabulary, experts, ...): 2^26.
  static let maximumDimension: Int64 = 1 << 26

  let members: [String: JSONValue]
  /// The model's name, for error messages.
  let model: String

  func has(_ key: String) -> Bool {
    if let value = members[key], value != .null { return true }
    return false
  }

  /// A required positive dimension, read from the first of `keys` that is present.
  func dimension(_ keys: String...) throws(ArchitectureError) -> Int64 {
    for key in keys where has(key) { return try positive(key) }
    throw .missingKey(keys[0], model: model)
  }

  /// An optional positive dimension: nil when none of `keys` is present.
  func optionalDimension(_ keys: String...) throws(ArchitectureError) -> Int64? {
    for key in keys where has(key) { return try positive(key) }
    return nil
  }

  /// An optional count that may be zero (e.g. `n_shared_experts`).
  func optionalCount(_ key: String) throws(ArchitectureError) -> Int64? {
    guard has(key) else { return nil }
    return try wholeNumber(key, minimum: 0)
  }

  func bool(_ key: String, default fallback: Bool) throws(ArchitectureError) -> Bool {
    guard let value = members[key], value != .null else { return fallback }
    guard case .bool(let flag) = value else {
      throw .invalidValue(key: key, value: Self.render(value), reason: "expected true or false", model: model)
    }
    return flag
  }

  func string(_ key: String) throws(ArchitectureError) -> String? {
    guard let value = members[key], value != .null else { return nil }
    guard case .string(let text) = value else {
      throw .invalidValue(key: key, value: Self.render(value), reason: "expected a string", model: model)
    }
    return text
  }

  func fraction(_ key: String, default fallback: Double) throws(ArchitectureError) -> Double {
    guard let value = members[key], value != .null else { return fallback }
    guard case .number(let number) = value, number.isFinite, number > 0, number <= 1 else {
      throw .invalidValue(key: key, value: Self.render(value), reason: "expected a number in (0, 1]", model: model)
    }
    return number
  }

  /// A list of layer indices (e.g. `mlp_only_layers`).
  func indices(_ key: String) throws(ArchitectureError) -> [Int64] {
    guard let value = members[key], value != .null else { return [] }
    guard case .array(let elements) = value else {
      throw .invalidValue(key: key, value: Self.render(value), reason: "expected a list of layer numbers", model: model)
    }
    var result: [Int64] = []
    for element in elements {
      guard case .number(let number) = element, let index = Int64(exactly: number), index >= 0 else {
        throw .invalidValue(key: key, value: Self.render(element), reason: "expected a layer number", model: model)
      }
      result.append(index)
    }
    return result
  }

  private func positive(_ key: String) throws(ArchitectureError) -> Int64 {
    try wholeNumber(key, minimum: 1)
  }

  private func wholeNumber(_ key: String, minimum: Int64) throws(ArchitectureError) -> Int64 {
    let value = members[key] ?? .null
    guard case .number(let number) = value else {
      throw .invalidValue(key: key, value: Self.render(value), reason: "expected a whole number", model: model)
    }
    guard let whole = Int64(exactly: number) else {
      throw .invalidValue(key: key, value: Self.render(value), reason: "expected a whole number", model: model)
    }
    guard whole >= minimum, whole <= Self.maximumDimension else {
      throw .invalidValue(
        key: key, value: Self.render(value),
        reason: "must be between \(minimum) and \(Self.maximumDimension)", model: model)
    }
    return whole
  }

  static func render(_ value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case .bool(let flag): return String(flag)
    case .number(let number):
      if let whole = Int64(exactly: number) { return String(whole) }
      return String(number)
    case .string(let text): return "'\(text)'"
    case .array: return "a list"
    case .object: return "an object"
    }
  }
}

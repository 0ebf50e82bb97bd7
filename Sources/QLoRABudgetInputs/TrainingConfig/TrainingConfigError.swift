import QLoRABudget

/// A training config file that cannot be read or holds a value the tool cannot use: names the
/// file, the line and the key, on one line.
public struct TrainingConfigError: Error, Hashable, Sendable, CustomStringConvertible {
  public let path: String
  /// 1-based line, when the problem is at one.
  public let line: Int?
  public let key: String?
  public let message: String

  public init(path: String, line: Int? = nil, key: String? = nil, _ message: String) {
    self.path = path
    self.line = line
    self.key = key
    self.message = message
  }

  public var description: String {
    let place = line.map { "\(path):\($0)" } ?? path
    let subject = key.map { "'\($0)': " } ?? ""
    return "\(place): \(subject)\(message)"
  }
}

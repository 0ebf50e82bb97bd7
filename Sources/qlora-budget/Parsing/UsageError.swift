/// A command line that cannot be run as typed (exit code 64, EX_USAGE).
struct UsageError: Error, CustomStringConvertible, Equatable {
  let message: String
  /// The command whose usage line to print after the message, if any.
  var command: String?

  init(_ message: String, command: String? = nil) {
    self.message = message
    self.command = command
  }

  var description: String { message }

  static func invalidValue(_ value: String, for option: String, _ reason: String) -> UsageError {
    UsageError("The value '\(value)' is invalid for '\(option)': \(reason)")
  }
}

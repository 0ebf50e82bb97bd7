#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why a file could not be read or written, in one line that names the path and says why in
/// plain words (the system's errno text, never a raw `NSError`).
public enum FileAccessError: Error, Equatable, CustomStringConvertible {
  /// An empty path was given where a file or folder is expected.
  case emptyPath
  /// A system call failed: `action` is what was attempted (`read`, `write`, `open`, ...).
  case failed(path: String, action: String, reason: String)
  /// The path names a FIFO, device, socket or folder where a regular file is expected (or a
  /// file where a folder is expected).
  case wrongKind(path: String, kind: String, expected: String)
  /// The output exists and replacing it was not asked for.
  case outputExists(path: String)
  /// The output is one of the inputs (the same device and inode, after resolving links).
  case outputIsInput(output: String, input: String)
  /// The output folder holds one of the inputs: replacing it would delete the input.
  case outputContainsInput(output: String, input: String)
  /// Replacing was asked for, but the output is not one this tool wrote: `found` says what is
  /// there instead (files it did not write, or no mark at all).
  case notAPreviousOutput(path: String, found: String)
  /// A file is larger than the reader accepts for its kind. `size` is `limit + 1` when the
  /// read stopped there (the file reported a smaller size, as `/proc` files do).
  case tooLarge(path: String, size: Int64, limit: Int64, what: String)

  public var description: String { described(replaceOption: nil) }

  /// The description; `replaceOption` names the caller's switch that allows replacing an output
  /// (the CLI's flag), which the messages about an existing output then mention. A library names
  /// no command-line flag.
  public func described(replaceOption: String?) -> String {
    switch self {
    case .emptyPath:
      "The path is empty: give a file or folder."
    case .failed(let path, let action, let reason):
      "Cannot \(action) '\(path)': \(reason)."
    case .wrongKind(let path, let kind, let expected):
      "'\(path)' is \(kind), not \(expected)."
    case .outputExists(let path):
      "The output '\(path)' already exists" + (replaceOption.map { ": pass \($0) to replace it" } ?? "") + "."
    case .outputIsInput(let output, let input):
      "The output '\(output)' is the input '\(input)' (the same file): choose another output."
    case .outputContainsInput(let output, let input):
      "The output folder '\(output)' holds the input '\(input)': choose another output."
    case .notAPreviousOutput(let path, let found):
      "The output '\(path)' is not one qlora-budget wrote (\(found)): "
        + (replaceOption.map { "\($0) replaces only a previous output" } ?? "only a previous output is replaced")
        + "; choose another output."
    case .tooLarge(let path, let size, let limit, let what):
      "'\(path)' is \(Self.size(size, limit)), over the \(limit)-byte limit for \(what)."
    }
  }

  /// The reason alone, without the path (for messages that name the path themselves).
  public var reason: String {
    switch self {
    case .emptyPath: "the path is empty"
    case .failed(_, _, let reason): reason
    case .wrongKind(_, let kind, let expected): "it is \(kind), not \(expected)"
    case .outputExists: "it already exists"
    case .outputIsInput(_, let input): "it is the input '\(input)'"
    case .outputContainsInput(_, let input): "it holds the input '\(input)'"
    case .notAPreviousOutput(_, let found): "not an output qlora-budget wrote (\(found))"
    case .tooLarge(_, let size, let limit, _): "\(Self.size(size, limit)), over the \(limit)-byte limit"
    }
  }

  private static func size(_ size: Int64, _ limit: Int64) -> String {
    size == limit + 1 ? "more than \(limit) bytes" : "\(size) bytes"
  }

  /// A failure described by the current `errno`.
  package static func system(_ path: String, _ action: String, errno code: Int32 = errno) -> FileAccessError {
    .failed(path: path, action: action, reason: reason(code))
  }

  /// The errno text in lower case ("no such file or directory", "permission denied").
  public static func reason(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "error \(code)" }
    let message = String(cString: text)
    return message.prefix(1).lowercased() + message.dropFirst()
  }

  /// What a `stat` mode is, in words, for messages ("a FIFO (named pipe)").
  static func kindName(mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFREG: "a regular file"
    case S_IFDIR: "a folder"
    case S_IFIFO: "a FIFO (named pipe)"
    case S_IFCHR: "a character device"
    case S_IFBLK: "a block device"
    case S_IFSOCK: "a socket"
    case S_IFLNK: "a symbolic link"
    default: "a special file"
    }
  }
}

import Foundation

/// Splits a byte stream into JSON-RPC messages, one per line (MCP's stdio transport), keeping
/// at most ``maximumLineBytes`` of a line: a longer line is reported as too long and skipped
/// to its end, never buffered whole.
struct MCPLineReader {
  enum Line: Equatable {
    case message(Data)
    /// A line longer than the limit (its bytes are dropped).
    case tooLong
  }

  static let maximumLineBytes = 1 << 20

  private var pending = Data()
  private var discarding = false

  /// The complete lines in `chunk` (with what earlier chunks left pending).
  mutating func feed(_ chunk: Data) -> [Line] {
    var lines: [Line] = []
    var start = chunk.startIndex
    while start < chunk.endIndex {
      guard let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) else {
        append(chunk[start...])
        break
      }
      append(chunk[start..<newline])
      if discarding {
        lines.append(.tooLong)
      } else if let line = trimmed(pending) {
        lines.append(.message(line))
      }
      pending = Data()
      discarding = false
      start = newline + 1
    }
    return lines
  }

  /// What is left at the end of input: a last line without a newline.
  mutating func finish() -> [Line] {
    defer {
      pending = Data()
      discarding = false
    }
    if discarding { return [.tooLong] }
    return trimmed(pending).map { [.message($0)] } ?? []
  }

  private mutating func append(_ bytes: Data) {
    guard !discarding else { return }
    if pending.count + bytes.count > Self.maximumLineBytes {
      discarding = true
      pending = Data()
    } else {
      pending.append(bytes)
    }
  }

  /// The line without a trailing `\r` or surrounding blanks; nil for a blank line.
  private func trimmed(_ line: Data) -> Data? {
    let blank: Set<UInt8> = [0x20, 0x09, 0x0D]
    guard let first = line.firstIndex(where: { !blank.contains($0) }),
      let last = line.lastIndex(where: { !blank.contains($0) })
    else { return nil }
    return Data(line[first...last])
  }
}

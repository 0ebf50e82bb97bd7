import Foundation
import QLoRABudget
import QLoRABudgetInputs

/// Where `diagnose` reads the pasted text from: `-` is stdin, an existing path is a file, any
/// other argument is the text itself. Reads at most ``OutOfMemoryReader/maximumInputBytes``
/// (a local cap: the paste is refused past it, never read whole); invalid UTF-8 is repaired.
enum MessageInput {
  static func text(
    _ argument: String, standardInput: () -> Data? = { FileHandle.standardInput.readData(upTo: limit + 1) }
  ) throws -> String {
    let data: Data
    if argument == "-" {
      data = standardInput() ?? Data()
    } else if FileManager.default.fileExists(atPath: argument) {
      data = try file(argument)
    } else {
      return argument
    }
    guard data.count <= limit else {
      throw DiagnosisError.inputTooLarge(bytes: Int64(data.count), limit: Int64(limit))
    }
    return String(decoding: data, as: UTF8.self)
  }

  static let limit = OutOfMemoryReader.maximumInputBytes

  /// A regular file's first `limit + 1` bytes (one more than read, to tell that it is larger).
  private static func file(_ path: String) throws -> Data {
    let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
    guard type == .typeRegular else {
      throw MessageInputError(
        message: "'\(path)' is not a regular file: give the out-of-memory message, a text file, or '-' for stdin")
    }
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw MessageInputError(message: "'\(path)' cannot be read")
    }
    defer { try? handle.close() }
    return handle.readData(upTo: limit + 1)
  }
}

struct MessageInputError: Error, CustomStringConvertible {
  let message: String
  var description: String { message }
}

extension FileHandle {
  /// Up to `count` bytes, reading until end of input or the count (a pipe gives data in pieces).
  func readData(upTo count: Int) -> Data {
    var data = Data()
    while data.count < count {
      guard let chunk = try? read(upToCount: min(1 << 16, count - data.count)), !chunk.isEmpty else { break }
      data.append(chunk)
    }
    return data
  }
}

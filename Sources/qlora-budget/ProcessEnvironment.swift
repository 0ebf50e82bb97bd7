import Foundation

/// The process's environment variables, read from `environ` byte by byte.
///
/// `ProcessInfo.processInfo.environment` gives the same dictionary (the last of two equal
/// names wins, an entry without `=` is skipped, invalid UTF-8 is repaired), but it splits each
/// entry on `Character`s, and the process's first grapheme breaking was 3% of a cold `fit`
/// (issue 19). `ProcessEnvironmentTests` checks the two agree.
enum ProcessEnvironment {
  static func current() -> [String: String] {
    var variables: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
      let bytes = UnsafeRawBufferPointer(start: pointer, count: strlen(pointer))
      if let equals = bytes.firstIndex(of: UInt8(ascii: "=")) {
        let name = String(decoding: bytes[..<equals], as: UTF8.self)
        variables[name] = String(decoding: bytes[(equals + 1)...], as: UTF8.self)
      }
      entry += 1
    }
    return variables
  }
}

import Foundation
import Testing

/// Runs the built `qlora-budget` binary and captures what it prints and returns.
///
/// The binary sits beside the test bundle in the build folder (`.build/debug/qlora-budget`);
/// `swift test` builds it first because the test target depends on the executable target.
struct BinaryRunner {
  struct Result {
    let status: Int32
    let standardOutput: String
    let standardError: String
  }

  /// The build products folder: where the test bundle and the executable both live.
  static var productsFolder: URL {
    var url = Bundle.main.bundleURL
    while !FileManager.default.fileExists(atPath: url.appendingPathComponent("qlora-budget").path),
      url.pathComponents.count > 1
    {
      url.deleteLastPathComponent()
    }
    return url
  }

  static var binary: URL { productsFolder.appendingPathComponent("qlora-budget") }

  static func run(
    _ arguments: [String], executable: URL = binary, environment: [String: String] = ["NO_COLOR": "1"],
    currentDirectory: URL? = nil
  ) throws -> Result {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = environment
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    // Read before waiting so a large output cannot fill the pipe and block the child.
    let outData = output.fileHandleForReading.readDataToEndOfFile()
    let errData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus, standardOutput: String(decoding: outData, as: UTF8.self),
      standardError: String(decoding: errData, as: UTF8.self))
  }

  /// Parses stdout as a JSON object.
  static func json(_ result: Result) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8))
    return try #require(object as? [String: Any])
  }
}

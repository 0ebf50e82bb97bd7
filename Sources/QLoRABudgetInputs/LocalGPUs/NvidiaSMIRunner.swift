import Foundation
import QLoRABudget

/// Runs `nvidia-smi` (found on the given PATH) with a timeout and a cap on what it prints: the
/// only place the library starts a process.
public enum NvidiaSMIRunner {
  public static let defaultTimeoutSeconds = 10
  public static let outputLimit = 1 << 20

  /// nvidia-smi's stdout for ``NvidiaSMIReport/arguments``.
  public static func query(environment: [String: String], timeoutSeconds: Int = defaultTimeoutSeconds)
    throws(LocalGPUError) -> String
  {
    guard let executable = find("nvidia-smi", path: environment["PATH"] ?? "") else { throw .notFound }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = NvidiaSMIReport.arguments
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch { throw .notFound }
    let reader = output.fileHandleForReading
    defer { try? reader.close() }
    var data = Data()
    let deadline = Date().addingTimeInterval(TimeInterval(timeoutSeconds))
    var outcome: LocalGPUError?
    // poll() rather than a blocking read: a hung nvidia-smi, or a child of it holding the pipe
    // open, must not hang the command.
    while true {
      let remaining = deadline.timeIntervalSinceNow
      guard remaining > 0 else {
        outcome = .timedOut(seconds: timeoutSeconds)
        break
      }
      var descriptor = pollfd(fd: reader.fileDescriptor, events: Int16(POLLIN), revents: 0)
      let ready = poll(&descriptor, 1, Int32(min(remaining, 1) * 1000))
      if ready < 0, errno == EINTR { continue }
      guard ready > 0 else { continue }
      var buffer = [UInt8](repeating: 0, count: 65536)
      let count = read(reader.fileDescriptor, &buffer, buffer.count)
      if count < 0, errno == EINTR { continue }
      guard count > 0 else { break }
      data.append(contentsOf: buffer[0..<count])
      if data.count > outputLimit {
        outcome = .outputTooLarge(limit: outputLimit)
        break
      }
    }
    if let outcome {
      process.terminate()
      let grace = Date().addingTimeInterval(1)
      while process.isRunning, Date() < grace { usleep(10_000) }
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
      process.waitUntilExit()
      throw outcome
    }
    process.waitUntilExit()
    guard process.terminationReason == .exit, process.terminationStatus == 0 else {
      throw .failed(status: process.terminationStatus)
    }
    return String(decoding: data, as: UTF8.self)
  }

  /// The first executable `name` in the colon-separated `path`.
  static func find(_ name: String, path: String) -> String? {
    for folder in path.split(separator: ":") where !folder.isEmpty {
      let candidate = String(folder) + "/" + name
      var isFolder: ObjCBool = false
      if FileManager.default.fileExists(atPath: candidate, isDirectory: &isFolder), !isFolder.boolValue,
        FileManager.default.isExecutableFile(atPath: candidate)
      {
        return candidate
      }
    }
    return nil
  }
}

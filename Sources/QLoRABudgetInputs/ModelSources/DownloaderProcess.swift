import Foundation
import QLoRABudget

/// Downloads by running `qlora-budget-download` from the folder of the running executable, so
/// that only a run that downloads loads FoundationNetworking (libcurl and its TLS libraries):
/// every other run starts without them.
public struct DownloaderProcess: ConfigDownloading {
  /// The helper's file name; `swift build` puts it beside `qlora-budget`.
  public static let executableName = "qlora-budget-download"

  /// The helper to run; nil for the one beside the running executable, looked up only when a
  /// download starts (resolving the executable's path cost every cold run a few syscalls).
  public var executable: URL?

  public init(executable: URL? = nil) {
    self.executable = executable
  }

  /// `qlora-budget-download` in the folder of `executable`.
  public static func helper(beside executable: URL) -> URL {
    executable.resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(executableName)
  }

  public func download(_ id: HubModelID, environment: [String: String], timeout: TimeInterval) throws(ModelSourceError)
    -> DownloadedConfig
  {
    let endpoint = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "the Hub"
    func failure(_ reason: String) -> ModelSourceError { .download(id: id.description, url: endpoint, reason: reason) }
    guard let executable = executable ?? Bundle.main.executableURL.map(Self.helper(beside:)),
      FileManager.default.isExecutableFile(atPath: executable.path)
    else {
      throw failure("the downloader \(Self.executableName) is not beside this executable")
    }
    let process = Process()
    process.executableURL = executable
    process.arguments = [id.description, String(timeout)]
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch { throw failure("cannot run \(executable.path): \(error.localizedDescription)") }
    // The helper bounds the body and the transfer time itself; its reply is one JSON line.
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationReason == .exit, process.terminationStatus == 0,
      let reply = try? JSONDecoder().decode(DownloadReply.self, from: data)
    else {
      throw failure("\(Self.executableName) failed (status \(process.terminationStatus))")
    }
    switch reply {
    case .config(let config): return config
    case .failure(let id, let url, let reason): throw .download(id: id, url: url, reason: reason)
    }
  }
}

/// What `qlora-budget-download` prints on stdout: the config, or why there is none.
public enum DownloadReply: Codable, Sendable {
  case config(DownloadedConfig)
  case failure(id: String, url: String, reason: String)
}

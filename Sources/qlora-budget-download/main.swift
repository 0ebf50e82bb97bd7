import Foundation
import HubDownload
import QLoRABudgetInputs

// qlora-budget-download OWNER/NAME TIMEOUT_SECONDS: fetches one config.json for
// `qlora-budget --download` (HF_ENDPOINT and HF_TOKEN from the environment) and prints a
// DownloadReply as JSON on stdout. It is its own executable so that FoundationNetworking is
// loaded only by a run that downloads (docs/architecture.md).
let arguments = CommandLine.arguments.dropFirst()
guard arguments.count == 2, let id = HubModelID(arguments.first!), let seconds = TimeInterval(arguments.last!),
  seconds > 0, seconds.isFinite
else {
  FileHandle.standardError.write(Data("usage: qlora-budget-download OWNER/NAME TIMEOUT_SECONDS\n".utf8))
  exit(64)
}
let reply: DownloadReply
do {
  reply = .config(
    try HubConfigDownload().download(id, environment: ProcessInfo.processInfo.environment, timeout: seconds))
} catch {
  switch error {
  case .download(let id, let url, let reason): reply = .failure(id: id, url: url, reason: reason)
  default: reply = .failure(id: id.description, url: "", reason: error.description)
  }
}
do {
  FileHandle.standardOutput.write(try JSONEncoder().encode(reply))
} catch {
  exit(70)
}

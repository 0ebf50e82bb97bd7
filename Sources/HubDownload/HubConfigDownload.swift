import Foundation
import QLoRABudgetInputs

/// Downloads in this process with ``HubDownloader`` (what `qlora-budget-download` runs).
public struct HubConfigDownload: ConfigDownloading {
  public init() {}

  public func download(_ id: HubModelID, environment: [String: String], timeout: TimeInterval) throws(ModelSourceError)
    -> DownloadedConfig
  {
    let downloader = try HubDownloader(environment: environment, timeout: timeout)
    let (data, commit) = try downloader.fetchConfig(for: id)
    return DownloadedConfig(data: data, commit: commit, url: downloader.configURL(for: id).absoluteString)
  }
}

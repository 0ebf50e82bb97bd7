import Foundation
import QLoRABudget

/// Fetches a Hub model's `config.json` for ``ModelResolver``, which checks nothing more and
/// stores what it returns into the HF cache: the fetcher only talks to the network.
public protocol ConfigDownloading: Sendable {
  /// The config.json of `id` from `$HF_ENDPOINT` (default the Hub), sending `$HF_TOKEN`; the
  /// whole transfer within `timeout` seconds. A failure is ``ModelSourceError/download(id:url:reason:)``.
  func download(_ id: HubModelID, environment: [String: String], timeout: TimeInterval) throws(ModelSourceError)
    -> DownloadedConfig
}

/// A downloaded config.json: its bytes, the commit it is at and the URL it came from.
public struct DownloadedConfig: Hashable, Sendable, Codable {
  public var data: Data
  public var commit: String
  public var url: String

  public init(data: Data, commit: String, url: String) {
    self.data = data
    self.commit = commit
    self.url = url
  }
}

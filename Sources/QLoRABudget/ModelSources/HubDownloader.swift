import Foundation

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// Fetches a model's `config.json` from the Hugging Face Hub (or `$HF_ENDPOINT`) over HTTPS,
/// only when the user asked for it, sending `$HF_TOKEN` for gated models.
///
/// `GET {endpoint}/{owner}/{name}/resolve/main/config.json`, as huggingface_hub's
/// `hf_hub_download` does; the commit comes from the `X-Repo-Commit` header. Nothing is stored
/// unless the body is a config.json the tool can read.
public struct HubDownloader: Sendable {
  public static let defaultEndpoint = "https://huggingface.co"
  /// config.json files are a few kB; a larger body is not one.
  public static let maximumBytes = 4 << 20

  public let endpoint: URL
  public let token: String?
  /// Seconds to wait for the server before giving up.
  public let timeout: TimeInterval

  /// From `HF_ENDPOINT` and `HF_TOKEN` (or the older `HUGGING_FACE_HUB_TOKEN`). The endpoint
  /// must be HTTPS; plain HTTP only to this machine (a local mirror or a test server), so a
  /// token is never sent in the clear.
  public init(environment: [String: String], timeout: TimeInterval = 30) throws(ModelSourceError) {
    let text = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultEndpoint
    let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
    guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), let host = url.host else {
      throw .download(id: "", url: text, reason: "HF_ENDPOINT is not a URL")
    }
    let local = ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased())
    guard scheme == "https" || (scheme == "http" && local) else {
      throw .download(id: "", url: text, reason: "HF_ENDPOINT must be https:// (plain http only to this machine)")
    }
    endpoint = url
    token = (environment["HF_TOKEN"] ?? environment["HUGGING_FACE_HUB_TOKEN"]).flatMap { $0.isEmpty ? nil : $0 }
    self.timeout = timeout
  }

  public func configURL(for id: HubModelID) -> URL {
    endpoint.appendingPathComponent(id.owner).appendingPathComponent(id.name)
      .appendingPathComponent("resolve/main/config.json")
  }

  /// The config.json body and the commit it is at.
  public func fetchConfig(for id: HubModelID) throws(ModelSourceError) -> (data: Data, commit: String) {
    let url = configURL(for: id)
    var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
    request.setValue("qlora-budget", forHTTPHeaderField: "User-Agent")
    if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
    let (data, response, error) = Self.send(request, timeout: timeout)
    func failure(_ reason: String) -> ModelSourceError { .download(id: id.description, url: url.absoluteString, reason: reason) }
    if let error {
      if (error as? URLError)?.code == .timedOut { throw failure("no answer within \(Int(timeout)) s") }
      throw failure("network error: \(error.localizedDescription)")
    }
    guard let http = response as? HTTPURLResponse else { throw failure("no HTTP response") }
    switch http.statusCode {
    case 200: break
    case 401, 403:
      throw failure(
        "HTTP \(http.statusCode): the model is gated or private; " + (token == nil ? "set HF_TOKEN to a token that has access" : "HF_TOKEN has no access to it"))
    case 404: throw failure("HTTP 404: no such model (or no config.json in it)")
    default: throw failure("HTTP \(http.statusCode)")
    }
    guard let data, data.count <= Self.maximumBytes else { throw failure("the body is empty or larger than 4 MiB") }
    do {
      _ = try ModelArchitecture(configData: data, name: id.description)
    } catch {
      throw failure("not a config.json this tool reads (\(error.description))")
    }
    let commit = http.allHeaderFields.first { ($0.key as? String)?.lowercased() == "x-repo-commit" }?.value as? String
    return (data, commit.flatMap(HubCache.revision) ?? "main")
  }

  /// Runs one request to completion (URLSession is asynchronous; the CLI is not).
  private static func send(_ request: URLRequest, timeout: TimeInterval) -> (Data?, URLResponse?, Error?) {
    final class Box: @unchecked Sendable {
      var result: (Data?, URLResponse?, Error?) = (nil, nil, nil)
    }
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    let configuration = URLSessionConfiguration.ephemeral
    configuration.timeoutIntervalForRequest = timeout
    configuration.timeoutIntervalForResource = timeout
    let session = URLSession(configuration: configuration)
    let task = session.dataTask(with: request) { data, response, error in
      box.result = (data, response, error)
      done.signal()
    }
    task.resume()
    if done.wait(timeout: .now() + timeout + 5) == .timedOut {
      task.cancel()
      session.invalidateAndCancel()
      return (nil, nil, URLError(.timedOut))
    }
    session.finishTasksAndInvalidate()
    return box.result
  }
}

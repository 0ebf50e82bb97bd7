import Foundation
import QLoRABudget
import QLoRABudgetInputs

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
  /// token is never sent in the clear. Scheme and host are compared and sent in lower case
  /// (`HTTP://LOCALHOST` is `http://localhost`).
  public init(environment: [String: String], timeout: TimeInterval = 30) throws(ModelSourceError) {
    let text = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultEndpoint
    let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
    guard var components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased(),
      let host = components.host?.lowercased(), !host.isEmpty
    else {
      throw .download(id: "", url: text, reason: "HF_ENDPOINT is not a URL")
    }
    components.scheme = scheme
    components.host = host
    guard scheme == "https" || (scheme == "http" && BoundedHTTPGet.Origin.loopbackHosts.contains(host)) else {
      throw .download(id: "", url: text, reason: "HF_ENDPOINT must be https:// (plain http only to this machine)")
    }
    guard let url = components.url else { throw .download(id: "", url: text, reason: "HF_ENDPOINT is not a URL") }
    endpoint = url
    token = (environment["HF_TOKEN"] ?? environment["HUGGING_FACE_HUB_TOKEN"]).flatMap { $0.isEmpty ? nil : $0 }
    self.timeout = timeout
  }

  public func configURL(for id: HubModelID) -> URL {
    endpoint.appendingPathComponent(id.owner).appendingPathComponent(id.name)
      .appendingPathComponent("resolve/main/config.json")
  }

  /// The config.json body and the commit it is at. The body is read at most to
  /// ``maximumBytes`` (after decompression) and the whole transfer to `timeout` seconds; the
  /// token goes only to the endpoint's own scheme, host and port (``BoundedHTTPGet``).
  public func fetchConfig(for id: HubModelID) throws(ModelSourceError) -> (data: Data, commit: String) {
    let url = configURL(for: id)
    func failure(_ reason: String) -> ModelSourceError {
      .download(id: id.description, url: url.absoluteString, reason: reason)
    }
    let get = BoundedHTTPGet(
      url: url, headers: ["User-Agent": "qlora-budget"], authorization: token.map { "Bearer \($0)" },
      limit: Self.maximumBytes, timeout: timeout)
    let http: HTTPURLResponse
    let data: Data
    switch get.run() {
    case .success(let answer): (http, data) = answer
    case .failure(.timedOut): throw failure("no complete answer within \(Int(timeout)) s")
    case .failure(.tooLarge): throw failure("the body is larger than 4 MiB")
    case .failure(.redirectRefused(let target, let reason)):
      throw failure("redirect to \(target) not followed: \(reason)")
    case .failure(.network(let reason)): throw failure("network error: \(reason)")
    }
    switch http.statusCode {
    case 200: break
    case 401, 403:
      throw failure(
        "HTTP \(http.statusCode): the model is gated or private; "
          + (token == nil ? "set HF_TOKEN to a token that has access" : "HF_TOKEN has no access to it"))
    case 404: throw failure("HTTP 404: no such model (or no config.json in it)")
    default: throw failure("HTTP \(http.statusCode)")
    }
    guard !data.isEmpty else { throw failure("the body is empty") }
    do {
      _ = try ModelArchitecture(configData: data, name: id.description)
    } catch {
      throw failure("not a config.json this tool reads (\(error.description))")
    }
    let commit = http.allHeaderFields.first { ($0.key as? String)?.lowercased() == "x-repo-commit" }?.value as? String
    return (data, commit.flatMap(HubCache.revision) ?? "main")
  }
}

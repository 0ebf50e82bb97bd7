import Foundation
import Testing

@testable import HubDownload
@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The download's credential and size rules against two local servers: the token stays with the
/// endpoint's scheme, host and port; a body is cut at 4 MiB while it arrives (also after gzip
/// decoding); a slow drip ends at the deadline.
@Suite struct DownloadSafetyTests {
  static let path = "/acme/tiny/resolve/main/config.json"
  static let token = "hf_secret_token_123"

  func downloader(_ server: LocalHTTPServer, timeout: TimeInterval = 10) throws -> HubDownloader {
    try HubDownloader(environment: ["HF_ENDPOINT": server.endpoint, "HF_TOKEN": Self.token], timeout: timeout)
  }

  func sawToken(_ server: LocalHTTPServer) -> Bool { server.requests.contains { $0.contains(Self.token) } }

  @Test func aRedirectToAnotherPortIsFollowedWithoutTheToken() throws {
    let other = try LocalHTTPServer(replies: [
      "/elsewhere/config.json": .respond(status: 200, headers: [], body: ModelResolverTests.tinyConfig(hidden: 80))
    ])
    defer { other.stop() }
    let endpoint = try LocalHTTPServer(replies: [
      Self.path: .respond(status: 302, headers: [("Location", other.endpoint + "/elsewhere/config.json")], body: Data())
    ])
    defer { endpoint.stop() }
    let (data, _) = try downloader(endpoint).fetchConfig(for: HubModelID("acme/tiny")!)
    #expect(data == ModelResolverTests.tinyConfig(hidden: 80))
    #expect(sawToken(endpoint))
    #expect(other.requests.count == 1)
    #expect(!sawToken(other))
    #expect(!other.requests.contains { $0.lowercased().contains("authorization") })
  }

  @Test func aRedirectWithinTheEndpointKeepsTheToken() throws {
    let endpoint = try LocalHTTPServer(replies: [
      Self.path: .respond(
        status: 307, headers: [("Location", "/api/resolve-cache/acme/tiny/config.json")], body: Data()),
      "/api/resolve-cache/acme/tiny/config.json": .respond(
        status: 200, headers: [], body: ModelResolverTests.tinyConfig()),
    ])
    defer { endpoint.stop() }
    _ = try downloader(endpoint).fetchConfig(for: HubModelID("acme/tiny")!)
    #expect(endpoint.requests.count == 2)
    #expect(endpoint.requests.allSatisfy { $0.contains("Bearer " + Self.token) })
  }

  /// `file:`, other schemes and plain http to another machine are not followed at all.
  @Test(arguments: ["file:///etc/passwd", "ftp://127.0.0.1/x", "http://example.invalid/config.json"])
  func redirectsToOtherSchemesAreRefused(_ location: String) throws {
    let endpoint = try LocalHTTPServer(replies: [
      Self.path: .respond(status: 302, headers: [("Location", location)], body: Data())
    ])
    defer { endpoint.stop() }
    #expect(
      performing: { try downloader(endpoint).fetchConfig(for: HubModelID("acme/tiny")!) },
      throws: {
        let text = ($0 as? ModelSourceError)?.description ?? ""
        return text.contains("redirect to \(location) not followed") && !text.contains("\n")
      })
    #expect(endpoint.requests.count == 1)
  }

  @Test func tooManyRedirectsAreRefused() throws {
    let endpoint = try LocalHTTPServer(replies: [
      Self.path: .respond(status: 302, headers: [("Location", Self.path)], body: Data())
    ])
    defer { endpoint.stop() }
    #expect(
      performing: { try downloader(endpoint).fetchConfig(for: HubModelID("acme/tiny")!) },
      throws: {
        ($0 as? ModelSourceError)?.description.contains("more than 5 redirects") == true
      })
    #expect(endpoint.requests.count == 6)
  }

  /// Bodies over the cap, each stopped while it arrives: a declared length, an endless chunked
  /// body, and 65 KB of gzip that inflates to 64 MiB.
  @Test(arguments: ["length", "endless", "gzip"])
  func oversizedBodiesStopAtTheCap(_ kind: String) throws {
    let reply: LocalHTTPServer.Reply
    switch kind {
    case "length": reply = .respond(status: 200, headers: [], body: Data(repeating: 0x20, count: (4 << 20) + 1))
    case "endless": reply = .endless(chunk: Data(repeating: 0x20, count: 65_536))
    default:
      let bomb = try Data(
        contentsOf: TestData.packageRoot.appendingPathComponent(
          "Tests/QLoRABudgetTests/Fixtures/hostile-downloads/gzip-bomb-64MiB.gz"))
      #expect(bomb.count < 100_000)
      reply = .respond(status: 200, headers: [("Content-Encoding", "gzip")], body: bomb)
    }
    let endpoint = try LocalHTTPServer(replies: [Self.path: reply])
    defer { endpoint.stop() }
    let start = Date()
    #expect(
      performing: { try downloader(endpoint).fetchConfig(for: HubModelID("acme/tiny")!) },
      throws: {
        ($0 as? ModelSourceError)?.description.contains("the body is larger than 4 MiB") == true
      })
    #expect(Date().timeIntervalSince(start) < 8)
  }

  /// A body just under the cap arrives whole (the cap is not off by one the other way).
  @Test func aBodyAtTheCapIsRead() throws {
    var body = ModelResolverTests.tinyConfig()
    body.append(Data(repeating: 0x20, count: (4 << 20) - body.count))
    let endpoint = try LocalHTTPServer(replies: [Self.path: .respond(status: 200, headers: [], body: body)])
    defer { endpoint.stop() }
    #expect(try downloader(endpoint).fetchConfig(for: HubModelID("acme/tiny")!).data.count == 4 << 20)
  }

  @Test func aSlowDripEndsAtTheDeadline() throws {
    let endpoint = try LocalHTTPServer(replies: [Self.path: .drip(length: 1_000, interval: 0.1)])
    defer { endpoint.stop() }
    let start = Date()
    #expect(
      performing: { try downloader(endpoint, timeout: 1).fetchConfig(for: HubModelID("acme/tiny")!) },
      throws: {
        ($0 as? ModelSourceError)?.description.contains("no complete answer within 1 s") == true
      })
    #expect(Date().timeIntervalSince(start) < 4)
  }

  @Test func anUpperCaseEndpointIsTheSameEndpoint() throws {
    let endpoint = try LocalHTTPServer(replies: [
      Self.path: .respond(status: 200, headers: [], body: ModelResolverTests.tinyConfig())
    ])
    defer { endpoint.stop() }
    let downloader = try HubDownloader(environment: ["HF_ENDPOINT": "HTTP://LOCALHOST:\(endpoint.port)"])
    #expect(downloader.endpoint.absoluteString == "http://localhost:\(endpoint.port)")
    #expect(try downloader.fetchConfig(for: HubModelID("acme/tiny")!).data == ModelResolverTests.tinyConfig())
  }
}

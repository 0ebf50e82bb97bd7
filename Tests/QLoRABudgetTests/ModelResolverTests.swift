import Foundation
import Testing

@testable import HubDownload
@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// Model ids as people write them: presets by Hub id, the local HF cache, and the Hub (a local
/// test server on 127.0.0.1) only when asked.
@Suite struct ModelResolverTests {
  /// A small llama config, written here by hand.
  static func tinyConfig(hidden: Int = 64) -> Data {
    Data(
      """
      {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": \(hidden), "intermediate_size": 128,
       "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100}
      """.utf8)
  }

  /// A fresh folder under the system temporary folder, removed when `body` returns.
  func withTemporaryFolder(_ body: (URL) throws -> Void) throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qlora-budget-hub-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    try body(folder)
  }

  func resolver(_ environment: [String: String], download: Bool = false, timeout: TimeInterval = 10) -> ModelResolver {
    ModelResolver(presets: .bundled, environment: environment, allowsDownload: download, timeout: timeout)
  }

  // MARK: - Presets

  @Test(arguments: [
    ("Qwen/Qwen3-14B", "qwen3-14b"), ("qwen/qwen3-14b", "qwen3-14b"), ("Qwen/Qwen3-14B-Base", "qwen3-14b"),
    ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"), ("meta-llama/Meta-Llama-3-8B-Instruct", "llama-3-8b"),
    ("NousResearch/Meta-Llama-3-8B", "llama-3-8b"), ("mistralai/Mistral-7B-Instruct-v0.3", "mistral-7b-v0.3"),
  ])
  func hubIDsResolveToTheirPreset(_ id: String, _ preset: String) throws {
    let (model, source) = try resolver([:]).resolve(id)
    #expect(source == .preset(preset))
    #expect(model == (try PresetCatalog.bundled.model(named: preset)))
  }

  /// Each listed id is a valid Hub id and belongs to exactly one preset.
  @Test func everyPresetHubIDIsValidAndUnique() throws {
    var owners: [String: String] = [:]
    for name in PresetCatalog.bundled.modelNames {
      let members = try #require(
        try JSONValue(parsing: Data(PresetCatalog.bundled.modelTexts[name, default: ""].utf8)).objectValue)
      guard case .array(let ids)? = members["hub_ids"] else {
        Issue.record("\(name) lists no hub_ids")
        continue
      }
      #expect(ids.contains(members["hf_repo"] ?? .null), "\(name): hub_ids includes hf_repo")
      for case .string(let id) in ids {
        #expect(HubModelID(id) != nil, "\(name): \(id)")
        #expect(owners.updateValue(name, forKey: id.lowercased()) == nil, "\(id) is listed twice")
      }
    }
    #expect(owners.count >= 100)
  }

  // MARK: - The local cache

  /// huggingface_hub's layout under $HF_HOME/hub; refs/main picks the snapshot.
  @Test func theCacheIsFoundThroughHFHomeAndRefsMain() throws {
    try withTemporaryFolder { home throws in
      let repository = home.appendingPathComponent("hub/models--acme--tiny-chat")
      for (commit, hidden) in [("1111", 32), ("2222", 64)] {
        let snapshot = repository.appendingPathComponent("snapshots/\(commit)")
        try FileManager.default.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try Self.tinyConfig(hidden: hidden).write(to: snapshot.appendingPathComponent("config.json"))
      }
      try FileManager.default.createDirectory(
        at: repository.appendingPathComponent("refs"), withIntermediateDirectories: true)
      try Data("2222\n".utf8).write(to: repository.appendingPathComponent("refs/main"))
      let (model, source) = try resolver(["HF_HOME": home.path]).resolve("acme/tiny-chat")
      #expect(model.hiddenSize == 64 && model.layerCount == 2 && model.keyValueHeadCount == 2)
      #expect(model.name == "acme/tiny-chat")
      #expect(source == .cache(repository.appendingPathComponent("snapshots/2222/config.json").path))
      // HF_HUB_CACHE comes before HF_HOME.
      #expect(throws: ModelSourceError.self) {
        try resolver(["HF_HOME": home.path, "HF_HUB_CACHE": home.appendingPathComponent("elsewhere").path]).resolve(
          "acme/tiny-chat")
      }
      #expect(
        try resolver(["HF_HUB_CACHE": home.appendingPathComponent("hub").path]).resolve("acme/tiny-chat").model
          .hiddenSize == 64)
      // The default: ~/.cache/huggingface/hub.
      let fallback = home.appendingPathComponent("user")
      try FileManager.default.createDirectory(
        at: fallback.appendingPathComponent(".cache/huggingface"), withIntermediateDirectories: true)
      try FileManager.default.copyItem(
        at: home.appendingPathComponent("hub"), to: fallback.appendingPathComponent(".cache/huggingface/hub"))
      #expect(try resolver(["HOME": fallback.path]).resolve("acme/tiny-chat").model.hiddenSize == 64)
    }
  }

  /// Offline (the default), an id found nowhere names every place looked and how to download.
  @Test func anUnresolvedIDSaysWhereItLooked() throws {
    try withTemporaryFolder { home throws in
      do {
        _ = try resolver(["HF_HOME": home.path]).resolve("acme/unknown-model")
        Issue.record("resolved")
      } catch {
        let message = String(describing: error)
        #expect(message.hasPrefix("unknown model 'acme/unknown-model': looked in the presets' Hub ids"))
        #expect(message.contains(home.path + "/hub/models--acme--unknown-model/snapshots/<refs/main>/config.json"))
        #expect(message.contains("Not downloaded: allow downloads (or set QLORA_BUDGET_DOWNLOAD=1)"))
        if case .notFound(_, _, let hint)? = error as? ModelSourceError {
          #expect(hint == .notAllowed)
        } else {
          Issue.record("\(error)")
        }
        #expect(!message.contains("\n"))
      }
    }
  }

  // MARK: - Download (a local server)

  @Test func downloadWritesTheCacheLayoutAndIsFoundOfflineNextTime() throws {
    let body = Self.tinyConfig(hidden: 96)
    let server = try LocalHTTPServer(replies: [
      "/acme/tiny/resolve/main/config.json": .respond(
        status: 200, headers: [("X-Repo-Commit", "0123abcdef")], body: body)
    ])
    defer { server.stop() }
    try withTemporaryFolder { home throws in
      let environment = ["HF_HOME": home.path, "HF_ENDPOINT": server.endpoint, "HF_TOKEN": "hf_test_token"]
      let (model, source) = try resolver(environment, download: true).resolve("acme/tiny")
      #expect(model.hiddenSize == 96)
      let repository = home.appendingPathComponent("hub/models--acme--tiny")
      let file = repository.appendingPathComponent("snapshots/0123abcdef/config.json")
      #expect(source == .downloaded(url: server.endpoint + "/acme/tiny/resolve/main/config.json", path: file.path))
      #expect(try Data(contentsOf: file) == body)
      #expect(try String(contentsOf: repository.appendingPathComponent("refs/main"), encoding: .utf8) == "0123abcdef")
      // The token went along, and no temporary file was left behind.
      #expect(server.requests.count == 1)
      #expect(server.requests.first?.lowercased().contains("authorization: bearer hf_test_token") == true)
      #expect(
        try FileManager.default.contentsOfDirectory(atPath: file.deletingLastPathComponent().path) == ["config.json"])
      // Next time, offline: the cache answers and the server is not asked.
      let again = try resolver(["HF_HOME": home.path, "HF_ENDPOINT": server.endpoint]).resolve("acme/tiny")
      #expect(again.source == .cache(file.path) && again.model == model)
      #expect(server.requests.count == 1)
    }
  }

  /// Each failure is one line naming the reason, and nothing is written to the cache.
  @Test(arguments: [
    (401, "set HF_TOKEN"), (403, "gated or private"), (404, "HTTP 404: no such model"), (500, "HTTP 500"),
  ])
  func httpErrorsAreNamedAndWriteNothing(_ status: Int, _ fragment: String) throws {
    let server = try LocalHTTPServer(replies: [
      "/acme/gated/resolve/main/config.json": .respond(
        status: status, headers: [], body: Data("{\"error\": \"no\"}".utf8))
    ])
    defer { server.stop() }
    try withTemporaryFolder { home throws in
      let environment = ["HF_HOME": home.path, "HF_ENDPOINT": server.endpoint]
      #expect(
        performing: { try resolver(environment, download: true).resolve("acme/gated") },
        throws: { error in
          let text = (error as? ModelSourceError)?.description ?? ""
          return text.contains(fragment) && text.contains(server.endpoint + "/acme/gated/resolve/main/config.json")
        })
      #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("hub/models--acme--gated").path))
    }
  }

  @Test func aMalformedBodyIsRefusedAndNotCached() throws {
    let server = try LocalHTTPServer(replies: [
      "/acme/broken/resolve/main/config.json": .respond(
        status: 200, headers: [], body: Data("{\"hidden_size\": ".utf8)),
      "/acme/html/resolve/main/config.json": .respond(status: 200, headers: [], body: Data("<html>login</html>".utf8)),
    ])
    defer { server.stop() }
    try withTemporaryFolder { home throws in
      let environment = ["HF_HOME": home.path, "HF_ENDPOINT": server.endpoint]
      for id in ["acme/broken", "acme/html"] {
        #expect(
          performing: { try resolver(environment, download: true).resolve(id) },
          throws: {
            ($0 as? ModelSourceError)?.description.contains("not a config.json this tool reads") == true
          })
      }
      #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("hub").path))
    }
  }

  @Test func aServerThatDoesNotAnswerTimesOut() throws {
    let server = try LocalHTTPServer(replies: ["/acme/slow/resolve/main/config.json": .stall(seconds: 8)])
    defer { server.stop() }
    try withTemporaryFolder { home throws in
      let environment = ["HF_HOME": home.path, "HF_ENDPOINT": server.endpoint]
      let start = Date()
      #expect(
        performing: { try resolver(environment, download: true, timeout: 1).resolve("acme/slow") },
        throws: {
          ($0 as? ModelSourceError)?.description.contains("no complete answer within 1 s") == true
        })
      #expect(Date().timeIntervalSince(start) < 7)
    }
  }

  /// The environment switch downloads like --download; HF_HUB_OFFLINE forbids it.
  @Test func theEnvironmentSwitchAndHFHubOffline() throws {
    let server = try LocalHTTPServer(replies: [
      "/acme/tiny/resolve/main/config.json": .respond(
        status: 200, headers: [("X-Repo-Commit", "abc")], body: Self.tinyConfig())
    ])
    defer { server.stop() }
    try withTemporaryFolder { home throws in
      let environment = ["HF_HOME": home.path, "HF_ENDPOINT": server.endpoint]
      var offline = environment
      offline["HF_HUB_OFFLINE"] = "1"
      #expect(
        performing: { try resolver(offline, download: true).resolve("acme/tiny") },
        throws: {
          ($0 as? ModelSourceError)?.description.contains("HF_HUB_OFFLINE is set") == true
        })
      #expect(server.requests.isEmpty)
      var switched = environment
      switched[ModelResolver.downloadVariable] = "1"
      #expect(try resolver(switched).resolve("acme/tiny").model.hiddenSize == 64)
    }
  }

  @Test func tokensTravelOnlyOverHTTPSOrToThisMachine() throws {
    #expect(throws: ModelSourceError.self) {
      try HubDownloader(environment: ["HF_ENDPOINT": "http://mirror.example.org"])
    }
    #expect(try HubDownloader(environment: [:]).endpoint.absoluteString == "https://huggingface.co")
    #expect(
      try HubDownloader(environment: ["HF_ENDPOINT": "http://localhost:8080/"]).endpoint.absoluteString
        == "http://localhost:8080")
  }

  /// Accepted and refused alike by huggingface_hub's `validate_repo_id` (checked with
  /// huggingface_hub 2.4.0's validator when these lists were written; its rules are in HubModelID).
  @Test(arguments: [
    "Qwen/Qwen3-14B", "a/b", "org-1/name_2.x", "_a/_b", "a.b/c.d", "A_/b_", "a/" + String(repeating: "b", count: 96),
  ])
  func hubIDsAccepted(_ text: String) { #expect(HubModelID(text)?.description == text) }

  @Test(arguments: [
    "Qwen", "a/b/c", "/b", "a/", "../x", "a/..", "a b/c", "a/b?c", "-a/b", "a/é", "x--y/z", "x/y--z", ".hidden/x",
    "a./b.",
    "a/b.git", "a/..b", "a/b..c", "a/-b", "a/b-", "a/" + String(repeating: "b", count: 97),
  ])
  func hubIDsRefused(_ text: String) { #expect(HubModelID(text) == nil) }
}

import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The HF cache is read with the bounded reader: a huge or special `refs/main` or snapshot
/// `config.json` is a one-line error naming it, never a full read; a cache that cannot be
/// written says why in words.
@Suite struct HubCacheSafetyTests {
  let id = HubModelID("acme/tiny")!

  func withCache(_ body: (URL, URL) throws -> Void) throws {
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("qlora-budget-cache-\(UUID().uuidString)")
    let repository = home.appendingPathComponent("hub/models--acme--tiny")
    try FileManager.default.createDirectory(
      at: repository.appendingPathComponent("refs"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(
      at: repository.appendingPathComponent("snapshots/abc"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: home) }
    try body(home, repository)
  }

  func resolve(_ home: URL) throws -> ModelResolver.Source {
    try ModelResolver(presets: .bundled, environment: ["HF_HOME": home.path], allowsDownload: false).resolve(
      "acme/tiny"
    ).source
  }

  /// Sparse: the size is claimed, not stored, so the test costs no disk.
  func sparse(_ url: URL, bytes: Int64) throws {
    _ = FileManager.default.createFile(atPath: url.path, contents: Data())
    let handle = try FileHandle(forWritingTo: url)
    try handle.truncate(atOffset: UInt64(bytes))
    try handle.close()
  }

  @Test func aHugeSnapshotConfigIsRefusedByItsSize() throws {
    try withCache { home, repository in
      try Data("abc".utf8).write(to: repository.appendingPathComponent("refs/main"))
      let config = repository.appendingPathComponent("snapshots/abc/config.json")
      try sparse(config, bytes: 2_000_000_000)
      #expect(
        performing: { try resolve(home) },
        throws: {
          ($0 as? ModelSourceError)?.description
            == "cannot read the cached config '\(config.path)': 2000000000 bytes, over the 16777216-byte limit"
        })
    }
  }

  @Test func aHugeRefIsRefusedAfterOneKiB() throws {
    try withCache { home, repository in
      let ref = repository.appendingPathComponent("refs/main")
      try sparse(ref, bytes: 1_000_000_000)
      let start = Date()
      #expect(
        performing: { try resolve(home) },
        throws: {
          ($0 as? ModelSourceError)?.description.hasPrefix(
            "cannot read the cached config '\(ref.path)': 1000000000 bytes, over the 1024-byte limit") == true
        })
      #expect(Date().timeIntervalSince(start) < 2)
    }
  }

  @Test func aRefThatIsAFIFOIsRefusedAtOnce() throws {
    try withCache { home, repository in
      let ref = repository.appendingPathComponent("refs/main")
      #expect(mkfifo(ref.path, 0o600) == 0)
      #expect(
        performing: { try resolve(home) },
        throws: {
          ($0 as? ModelSourceError)?.description.contains("a FIFO (named pipe), not a regular file") == true
        })
    }
  }

  @Test func aRefThatIsNotARevisionIsNamed() throws {
    try withCache { home, repository in
      try Data("../../etc".utf8).write(to: repository.appendingPathComponent("refs/main"))
      #expect(
        performing: { try resolve(home) },
        throws: {
          ($0 as? ModelSourceError)?.description.contains("refs/main': not a commit or branch name") == true
        })
    }
  }

  /// A cache root that is a file: the reason in words, not "NSCocoaErrorDomain error 512".
  @Test func aCacheThatCannotBeWrittenSaysWhy() throws {
    try withCache { home, _ in
      let blocked = home.appendingPathComponent("blocked")
      try Data("x".utf8).write(to: blocked)
      let cache = HubCache(root: blocked.appendingPathComponent("hub"))
      #expect(
        performing: { try cache.store(ModelResolverTests.tinyConfig(), for: id, commit: "abc") },
        throws: {
          let text = String(describing: $0)
          return text.contains("not a directory") && !text.contains("NSCocoaErrorDomain")
        })
    }
  }
}

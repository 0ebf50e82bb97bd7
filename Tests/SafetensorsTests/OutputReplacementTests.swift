import Foundation
import Testing

@testable import FileSafety
@testable import Safetensors

#if canImport(Glibc)
  import Glibc
#endif

/// What a write may replace: a folder output only when it is a previous output (its manifest
/// lists everything in it); temporaries of killed runs are swept on the next write.
@Suite struct OutputReplacementTests {
  static func folder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("replace-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  static func entries(_ folder: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
  }

  @Test func aFolderWithoutTheManifestIsNotReplacedEvenWithForce() throws {
    let root = try Self.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    let model = root.appendingPathComponent("my-model")
    try FileManager.default.createDirectory(at: model.appendingPathComponent("sub"), withIntermediateDirectories: true)
    try Data("weights".utf8).write(to: model.appendingPathComponent("model.safetensors"))
    #expect(
      throws: FileAccessError.notAPreviousOutput(
        path: model.path, found: "it holds 'model.safetensors', 'sub' and no \(StagingFolder.manifestName)")
    ) {
      try StagingFolder(path: model.path, replacingExisting: true, protecting: [:])
    }
    #expect(Self.entries(model) == ["model.safetensors", "sub"])
    #expect(Self.entries(root) == ["my-model"], "no staging folder left")
  }

  @Test func aPreviousOutputWithFilesAddedSinceIsNotReplaced() throws {
    let root = try Self.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    let output = root.appendingPathComponent("out")
    let first = try StagingFolder(path: output.path, replacingExisting: false, protecting: [:])
    try first.write(Array("a".utf8), as: "a.txt")
    try first.publish()
    try Data("notes".utf8).write(to: output.appendingPathComponent("my-notes.md"))
    try FileManager.default.createDirectory(
      at: output.appendingPathComponent("runs"), withIntermediateDirectories: false)
    #expect(
      throws: FileAccessError.notAPreviousOutput(
        path: output.path, found: "it holds 'my-notes.md', 'runs', which quantize did not write")
    ) {
      try StagingFolder(path: output.path, replacingExisting: true, protecting: [:])
    }
    try FileManager.default.removeItem(at: output.appendingPathComponent("my-notes.md"))
    try FileManager.default.removeItem(at: output.appendingPathComponent("runs"))
    let second = try StagingFolder(path: output.path, replacingExisting: true, protecting: [:])
    try second.write(Array("b".utf8), as: "b.txt")
    try second.publish()
    #expect(Self.entries(output) == [StagingFolder.manifestName, "b.txt"])
  }

  @Test func temporariesOfDeadProcessesAreSweptOnTheNextWrite() throws {
    let root = try Self.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    let finished = Process()
    finished.executableURL = URL(fileURLWithPath: "/bin/true")
    try finished.run()
    finished.waitUntilExit()
    let dead = finished.processIdentifier
    let staleFile = root.appendingPathComponent(".out.svg.tmp-\(dead)-1f2e")
    let staleFolder = root.appendingPathComponent(".model-nf4.tmp-\(dead)-abc")
    let live = root.appendingPathComponent(".other.tmp-1-ab")  // PID 1 is alive
    let unrelated = root.appendingPathComponent(".notes.tmp-x")
    for file in [staleFile, live, unrelated] { try Data("x".utf8).write(to: file) }
    try FileManager.default.createDirectory(at: staleFolder, withIntermediateDirectories: false)
    try Data("x".utf8).write(to: staleFolder.appendingPathComponent("model.safetensors"))
    try AtomicFileWriter.write(
      Array("new".utf8), to: root.appendingPathComponent("chart.svg").path, replacingExisting: false)
    #expect(Self.entries(root) == [".notes.tmp-x", ".other.tmp-1-ab", "chart.svg"])
  }

  @Test(
    arguments: [
      (".a.tmp-123-ff", Int32(123)), (".x.safetensors.tmp-99999-1a2b3c4d", 99999), ("a.tmp-1-f", nil),
      (".a.tmp-12-", nil),
      (".a.tmp--1-f", nil), (".a.tmp-1-xyz", nil), (".a.tmp-+1-f", nil), (".tmp-1-f", nil), (".a.tmp-1-f-2", nil),
    ] as [(String, Int32?)])
  func theTemporaryNamePattern(_ name: String, _ pid: Int32?) {
    #expect(StaleTemporaries.owner(name) == pid)
  }

  /// A swap whose old folder cannot be removed (an immutable file in it, `chattr +i`) is a
  /// failure that says where the old copy is, never a silent success. Needs a file system and
  /// privileges for `chattr`; where it cannot be set, there is nothing to check.
  @Test func aSwapWhoseOldFolderCannotBeRemovedIsReported() throws {
    let root = try Self.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    let output = root.appendingPathComponent("out")
    let first = try StagingFolder(path: output.path, replacingExisting: false, protecting: [:])
    try first.write(Array("a".utf8), as: "a.txt")
    try first.publish()
    let stuck = output.appendingPathComponent("a.txt")
    func chattr(_ flag: String, _ path: String) -> Bool {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
      process.arguments = [flag, path]
      process.standardError = FileHandle.nullDevice
      guard (try? process.run()) != nil else { return false }
      process.waitUntilExit()
      return process.terminationStatus == 0
    }
    guard chattr("+i", stuck.path) else { return }
    defer { _ = chattr("-i", stuck.path) }
    let second = try StagingFolder(path: output.path, replacingExisting: true, protecting: [:])
    try second.write(Array("b".utf8), as: "b.txt")
    #expect(
      performing: { try second.publish() },
      throws: {
        guard case .failed(let path, let action, _)? = $0 as? FileAccessError else { return false }
        return path == second.path && action.contains("the new one is in place")
      })
    #expect(Self.entries(output) == [StagingFolder.manifestName, "b.txt"])
    #expect(FileManager.default.fileExists(atPath: second.path + "/a.txt"), "the old copy is where the error says")
    _ = chattr("-i", second.path + "/a.txt")
  }
}

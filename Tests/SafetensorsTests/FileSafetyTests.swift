import FileSafety
import Foundation
import Safetensors
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The file primitives every reader and writer goes through (issue 12): only regular files are
/// read, outputs appear whole or not at all, inputs are never written, and the header reader
/// refuses what JSON readers would silently accept.
@Suite struct FileSafetyTests {
  /// A fresh empty folder for one test.
  static func folder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("file-safety-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// The folder's entries, hidden ones included (a leftover temporary would show here).
  static func entries(_ folder: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
  }

  @Test func aFIFOIsRefusedWithoutBlocking() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let fifo = folder.appendingPathComponent("pipe.safetensors")
    try #require(mkfifo(fifo.path, 0o600) == 0)
    #expect(
      throws: SafetensorsError.file(
        .wrongKind(path: fifo.path, kind: "a FIFO (named pipe)", expected: "a regular file"))
    ) {
      try SafetensorsFile(url: fifo)
    }
  }

  @Test func aDeviceAFolderAndAnEmptyPathAreRefused() throws {
    #expect(
      throws: FileAccessError.wrongKind(path: "/dev/null", kind: "a character device", expected: "a regular file")
    ) {
      try ReadableFile(path: "/dev/null")
    }
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    #expect(throws: FileAccessError.wrongKind(path: folder.path, kind: "a folder", expected: "a regular file")) {
      try ReadableFile(path: folder.path)
    }
    #expect(throws: FileAccessError.emptyPath) { try ReadableFile(path: "") }
    #expect(throws: FileAccessError.emptyPath) { try AtomicFileWriter(path: "", replacingExisting: true) }
  }

  @Test func aSmallFileReaderStopsAtItsLimit() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("config.json")
    try Data(repeating: 0x20, count: 101).write(to: file)
    #expect(throws: FileAccessError.tooLarge(path: file.path, size: 101, limit: 100, what: "a test")) {
      try ReadableFile.contents(of: file.path, limit: 100, what: "a test")
    }
    #expect(try ReadableFile.contents(of: file.path, limit: 101, what: "a test").count == 101)
  }

  /// `/proc` files report a size of 0: the read itself stops after limit + 1 bytes; a sparse
  /// file's claimed size is refused before reading.
  @Test func aProcFileAndASparseFileStopAtTheLimit() throws {
    #expect(FileManager.default.fileExists(atPath: "/proc/self/status"))
    #expect(throws: FileAccessError.tooLarge(path: "/proc/self/status", size: 101, limit: 100, what: "a test")) {
      try ReadableFile.contents(of: "/proc/self/status", limit: 100, what: "a test")
    }
    #expect(
      FileAccessError.tooLarge(path: "p", size: 101, limit: 100, what: "a test").description
        == "'p' is more than 100 bytes, over the 100-byte limit for a test.")
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let sparse = folder.appendingPathComponent("sparse.json")
    #expect(FileManager.default.createFile(atPath: sparse.path, contents: Data()))
    #expect(truncate(sparse.path, 8_000_000_000) == 0)
    #expect(throws: FileAccessError.tooLarge(path: sparse.path, size: 8_000_000_000, limit: 100, what: "a test")) {
      try ReadableFile.contents(of: sparse.path, limit: 100, what: "a test")
    }
  }

  @Test func anExistingOutputIsKeptUnlessReplacingIsAsked() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let output = folder.appendingPathComponent("out.txt")
    try Data("old".utf8).write(to: output)
    #expect(throws: FileAccessError.outputExists(path: output.path)) {
      try AtomicFileWriter.write(Array("new".utf8), to: output.path, replacingExisting: false)
    }
    #expect(try String(contentsOf: output, encoding: .utf8) == "old")
    try AtomicFileWriter.write(Array("new".utf8), to: output.path, replacingExisting: true)
    #expect(try String(contentsOf: output, encoding: .utf8) == "new")
    #expect(Self.entries(folder) == ["out.txt"])
  }

  @Test func anAbandonedWriteLeavesThePreviousFileAndNoTemporary() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let output = folder.appendingPathComponent("out.txt")
    try Data("previous".utf8).write(to: output)
    do {
      let writer = try AtomicFileWriter(path: output.path, replacingExisting: true)
      try writer.write(Array("half of the new".utf8))
      #expect(Self.entries(folder).count == 2, "the temporary sits beside the output")
    }
    #expect(try String(contentsOf: output, encoding: .utf8) == "previous")
    #expect(Self.entries(folder) == ["out.txt"])
  }

  @Test func aLinkToTheInputIsRecognisedByInodeNotPath() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = folder.appendingPathComponent("in.safetensors")
    let link = folder.appendingPathComponent("link.safetensors")
    try Data("input".utf8).write(to: input)
    try FileManager.default.createSymbolicLink(at: link, withDestinationURL: input)
    let identity = try #require(FileIdentity(path: input.path))
    #expect(FileIdentity(path: link.path) == identity)
    #expect(throws: FileAccessError.outputIsInput(output: link.path, input: input.path)) {
      try AtomicFileWriter.write(
        Array("output".utf8), to: link.path, replacingExisting: true, protecting: [identity: input.path])
    }
    #expect(try String(contentsOf: input, encoding: .utf8) == "input")
  }

  @Test func writingThroughALinkReplacesItsTargetAndKeepsTheLink() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let target = folder.appendingPathComponent("chart.svg")
    let link = folder.appendingPathComponent("link.svg")
    try Data("old".utf8).write(to: target)
    try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
    try AtomicFileWriter.write(Array("new".utf8), to: link.path, replacingExisting: true)
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link.path) == target.path)
    #expect(try String(contentsOf: target, encoding: .utf8) == "new")
  }

  @Test func aFIFOOrDeviceIsNeverReplaced() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let fifo = folder.appendingPathComponent("out.svg")
    try #require(mkfifo(fifo.path, 0o600) == 0)
    #expect(
      throws: FileAccessError.wrongKind(
        path: fifo.path, kind: "a FIFO (named pipe)", expected: "a regular file to replace")
    ) {
      try AtomicFileWriter.write(Array("x".utf8), to: fifo.path, replacingExisting: true)
    }
    #expect(
      throws: FileAccessError.wrongKind(
        path: "/dev/null", kind: "a character device", expected: "a regular file to replace")
    ) {
      try AtomicFileWriter.write(Array("x".utf8), to: "/dev/null", replacingExisting: true)
    }
  }

  @Test func aStagingFolderAppearsWholeAndNeverOverTheInput() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = folder.appendingPathComponent("model")
    try FileManager.default.createDirectory(at: input, withIntermediateDirectories: false)
    let shard = input.appendingPathComponent("model.safetensors")
    try Data("weights".utf8).write(to: shard)
    let inputs = [try #require(FileIdentity(path: shard.path)): shard.path]
    #expect(throws: FileAccessError.outputContainsInput(output: folder.path, input: shard.path)) {
      try StagingFolder(path: folder.path, replacingExisting: true, protecting: inputs)
    }
    let output = folder.appendingPathComponent("quantized")
    do {
      let staging = try StagingFolder(path: output.path, replacingExisting: false, protecting: inputs)
      try staging.write(Array("a".utf8), as: "a.txt")
      #expect(!FileManager.default.fileExists(atPath: output.path), "nothing at the destination before publish")
    }
    #expect(Self.entries(folder) == ["model"], "an unpublished staging folder is removed")
    let staging = try StagingFolder(path: output.path, replacingExisting: false, protecting: inputs)
    try staging.write(Array("a".utf8), as: "a.txt")
    try staging.publish()
    #expect(Self.entries(output) == [StagingFolder.manifestName, "a.txt"])
    #expect(
      try String(contentsOf: output.appendingPathComponent(StagingFolder.manifestName), encoding: .utf8)
        == "{\"written_by\": \"qlora-budget\", \"files\": [\"a.txt\"]}\n")
    #expect(throws: FileAccessError.outputExists(path: output.path)) {
      try StagingFolder(path: output.path, replacingExisting: false, protecting: inputs)
    }
    let again = try StagingFolder(path: output.path, replacingExisting: true, protecting: inputs)
    try again.write(Array("b".utf8), as: "b.txt")
    try again.publish()
    #expect(Self.entries(output) == [StagingFolder.manifestName, "b.txt"], "the old folder is replaced as a whole")
    #expect(Self.entries(folder) == ["model", "quantized"])
  }
}

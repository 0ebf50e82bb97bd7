import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// One rule for every file the tool writes: the atomic writer, no replacement without
/// `--force`, never an input of the same command (by device and inode, through links), never a
/// special file; `quantize --force` replaces only its own previous output; a model folder's
/// links are copied only when they stay inside it.
@Suite struct OutputRuleTests {
  static let config =
    #"{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100}"#

  func withFolder(_ body: (URL) throws -> Void) throws {
    let root = try HostileFileTests.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    try body(root)
  }

  @Test func anSVGNeverReplacesTheCommandsInputEvenWithForceOrThroughALink() throws {
    try withFolder { root in
      let folder = root.appendingPathComponent("cfg")
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
      let config = folder.appendingPathComponent("config.json")
      try Data(Self.config.utf8).write(to: config)
      let link = root.appendingPathComponent("chart.svg")
      try FileManager.default.createSymbolicLink(at: link, withDestinationURL: config)
      for (model, output) in [
        (config.path, config.path), (folder.path, config.path), (config.path, link.path), (folder.path, link.path),
      ] {
        let result = try BinaryRunner.run(["estimate", model, "--gpu", "t4", "--svg", output, "--force"])
        #expect(result.status == 1, "\(model) \(output)")
        #expect(result.standardError.contains("(the same file): choose another output."), "\(result.standardError)")
      }
      #expect(try String(contentsOf: config, encoding: .utf8) == Self.config)
    }
  }

  /// A file the command reads without naming it on the command line (the DeepSpeed file a
  /// training config names) is an input too: never replaced, even with `--force`.
  @Test func aFileTheConfigNamesIsNeverAnOutput() throws {
    try withFolder { root in
      let deepSpeed = root.appendingPathComponent("ds.json")
      let zero2 = #"{"zero_optimization": {"stage": 2}}"#
      try Data(zero2.utf8).write(to: deepSpeed)
      let config = root.appendingPathComponent("run.yaml")
      try Data("model_name_or_path: qwen3-8b\nfinetuning_type: lora\ndeepspeed: ds.json\n".utf8).write(to: config)
      let read = try BinaryRunner.run(["estimate", "--config", config.path, "--json"])
      #expect(read.status == 0 && read.standardOutput.contains(#""engine": "zero2""#), "\(read.standardError)")
      let result = try BinaryRunner.run(["estimate", "--config", config.path, "--svg", deepSpeed.path, "--force"])
      #expect(result.status == 1)
      #expect(result.standardError.contains("(the same file): choose another output."), "\(result.standardError)")
      #expect(try String(contentsOf: deepSpeed, encoding: .utf8) == zero2)
    }
  }

  @Test func anExistingOutputNeedsForceForEveryCommand() throws {
    try withFolder { root in
      let svg = root.appendingPathComponent("chart.svg")
      try Data("mine".utf8).write(to: svg)
      let commands = [
        ["estimate", "qwen3-8b", "--gpu", "a100-80gb"], ["fit", "qwen3-8b", "--gpu", "a100-80gb"],
        ["table", "--models", "qwen3-8b", "--gpu", "a100-80gb"], ["compare", "qwen3-8b", "--gpu", "a100-80gb"],
        ["solve", "qwen3-8b", "--gpu", "rtx-4090", "--find", "rank"],
      ]
      for command in commands {
        let refused = try BinaryRunner.run(command + ["--svg", svg.path])
        #expect(refused.status == 1, "\(command)")
        #expect(
          refused.standardError.contains("Error: The output '\(svg.path)' already exists: pass --force to replace it."),
          "\(command)")
        #expect(try String(contentsOf: svg, encoding: .utf8) == "mine")
      }
      for command in commands {
        try Data("mine".utf8).write(to: svg)
        #expect(try BinaryRunner.run(command + ["--svg", svg.path, "--force"]).status == 0, "\(command)")
        #expect(try String(contentsOf: svg, encoding: .utf8).hasPrefix("<?xml"))
      }
      let validate = try BinaryRunner.run(["validate", "--output", svg.path, "--margin-output", "-"])
      #expect(validate.status == 1 && validate.standardError.contains("already exists: pass --force"))
    }
  }

  @Test func aSpecialFileIsNeverAnOutput() throws {
    try withFolder { root in
      let fifo = root.appendingPathComponent("pipe.svg")
      try #require(mkfifo(fifo.path, 0o600) == 0)
      for output in [fifo.path, "/dev/null"] {
        let result = try BinaryRunner.run(["estimate", "qwen3-8b", "--gpu", "t4", "--svg", output, "--force"])
        #expect(result.status == 1)
        #expect(result.standardError.contains("not a regular file to replace"), "\(result.standardError)")
      }
    }
  }

  @Test func aGridOverTheCellLimitIsRefusedByItsCount() throws {
    let ranks = (1...1_001).map(String.init).joined(separator: ",")
    let lengths = (1...1_000).map { String($0 * 64) }.joined(separator: ",")
    let start = Date()
    let result = try BinaryRunner.run([
      "table", "--models", "qwen3-8b", "--gpu", "t4", "--ranks", ranks, "--seq-lens", lengths,
    ])
    #expect(result.status != 0)
    #expect(
      result.standardError.contains(
        "the table has 1001000 cells (models x ranks x sequence lengths x GPUs), over the limit of 1000000"))
    #expect(Date().timeIntervalSince(start) < 10)
  }

  /// `quantize MODEL DIR --force` replaces DIR only when quantize wrote it: a model folder, the
  /// current folder, or a previous output with a file added are refused, naming what is there.
  @Test func quantizeForceReplacesOnlyItsOwnOutput() throws {
    try withFolder { root in
      let model = root.appendingPathComponent("model")
      try FileManager.default.createDirectory(at: model, withIntermediateDirectories: false)
      try HostileFileTests.smallModel(model.appendingPathComponent("model.safetensors"))
      let other = root.appendingPathComponent("other")
      try FileManager.default.createDirectory(
        at: other.appendingPathComponent("data"), withIntermediateDirectories: true)
      try Data("keep".utf8).write(to: other.appendingPathComponent("keep.txt"))
      let refused = try BinaryRunner.run(["quantize", model.path, other.path, "--force"])
      #expect(refused.status == 1)
      #expect(
        refused.standardError
          == "Error: The output '\(other.path)' is not one qlora-budget wrote (it holds 'data', 'keep.txt' "
          + "and no .qlora-budget-output.json): --force replaces only a previous output; choose another output.\n")
      let current = try BinaryRunner.run(["quantize", model.path, ".", "--force"], currentDirectory: other)
      #expect(current.status == 1 && current.standardError.contains("is not one qlora-budget wrote"))
      #expect(
        ((try? FileManager.default.contentsOfDirectory(atPath: other.path)) ?? []).sorted() == ["data", "keep.txt"])
      let output = root.appendingPathComponent("model-nf4")
      #expect(try BinaryRunner.run(["quantize", model.path, output.path]).status == 0)
      #expect(try BinaryRunner.run(["quantize", model.path, output.path, "--force"]).status == 0)
      try Data("notes".utf8).write(to: output.appendingPathComponent("notes.md"))
      let added = try BinaryRunner.run(["quantize", model.path, output.path, "--force"])
      #expect(added.status == 1 && added.standardError.contains("it holds 'notes.md', which quantize did not write"))
      #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("notes.md").path))
    }
  }

  /// A side file that is a link out of the model folder is not copied (said); a Hugging Face
  /// cache snapshot's links into its repository's blobs are.
  @Test func sideFileLinksLeavingTheFolderAreNotCopied() throws {
    try withFolder { root in
      let secret = root.appendingPathComponent("secret.txt")
      try Data("token".utf8).write(to: secret)
      let repository = root.appendingPathComponent("models--acme--tiny")
      let snapshot = repository.appendingPathComponent("snapshots/abc")
      let blobs = repository.appendingPathComponent("blobs")
      try FileManager.default.createDirectory(at: snapshot, withIntermediateDirectories: true)
      try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
      try HostileFileTests.smallModel(snapshot.appendingPathComponent("model.safetensors"))
      try Data("{}".utf8).write(to: blobs.appendingPathComponent("0123"))
      try FileManager.default.createSymbolicLink(
        atPath: snapshot.appendingPathComponent("tokenizer.json").path, withDestinationPath: "../../blobs/0123")
      try FileManager.default.createSymbolicLink(
        at: snapshot.appendingPathComponent("README.md"), withDestinationURL: secret)
      let output = root.appendingPathComponent("out")
      let result = try BinaryRunner.run(["quantize", snapshot.path, output.path])
      #expect(result.status == 0)
      #expect(
        result.standardError.contains("not copied: README.md (a link to '\(secret.path)', outside the model folder)"),
        "\(result.standardError)")
      #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("README.md").path))
      #expect(try String(contentsOf: output.appendingPathComponent("tokenizer.json"), encoding: .utf8) == "{}")
    }
  }
}

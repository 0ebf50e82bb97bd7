import Foundation
import Testing

/// Model ids, the HF cache and training configs through the real binary.
@Suite struct ModelSourceCommandTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("QLoRABudgetTests/Fixtures/training-configs")

  static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

  /// The JSON object without the keys that say where the inputs came from.
  static func estimate(_ result: BinaryRunner.Result) throws -> NSDictionary {
    var json = try BinaryRunner.json(result)
    json["model_source"] = nil
    json["config"] = nil
    return json as NSDictionary
  }

  func withTemporaryFolder(_ body: (URL) throws -> Void) throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qlora-budget-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    try body(folder)
  }

  @Test func aHubIDGivesThePresetsAnswer() throws {
    let byID = try BinaryRunner.run(["fit", "Qwen/Qwen3-14B", "--gpu", "rtx-4090", "--rank", "32", "--json"])
    let byName = try BinaryRunner.run(["fit", "qwen3-14b", "--gpu", "rtx-4090", "--rank", "32", "--json"])
    #expect(byID.status == byName.status)
    #expect(try Self.estimate(byID) == Self.estimate(byName))
    #expect(try BinaryRunner.json(byID)["model_source"] as? String == "preset qwen3-14b")
    let text = try BinaryRunner.run(["fit", "Qwen/Qwen3-14B", "--gpu", "rtx-4090", "--rank", "32"])
    #expect(text.standardOutput.contains("Model: Qwen/Qwen3-14B from preset qwen3-14b"))
  }

  @Test func aModelInTheHFCacheIsFound() throws {
    try withTemporaryFolder { home throws in
      let snapshot = home.appendingPathComponent("hub/models--acme--tiny/snapshots/feed")
      try FileManager.default.createDirectory(at: snapshot, withIntermediateDirectories: true)
      let config = """
        {"model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_attention_heads": 4,
         "num_key_value_heads": 4, "num_hidden_layers": 3, "vocab_size": 1000}
        """
      try Data(config.utf8).write(to: snapshot.appendingPathComponent("config.json"))
      try FileManager.default.createDirectory(
        at: home.appendingPathComponent("hub/models--acme--tiny/refs"), withIntermediateDirectories: true)
      try Data("feed".utf8).write(to: home.appendingPathComponent("hub/models--acme--tiny/refs/main"))
      let result = try BinaryRunner.run(
        ["estimate", "acme/tiny", "--json"], environment: ["NO_COLOR": "1", "HF_HOME": home.path])
      #expect(result.status == 0, "\(result.standardError)")
      let json = try BinaryRunner.json(result)
      #expect((json["model"] as? [String: Any])?["name"] as? String == "acme/tiny")
      #expect(json["model_source"] as? String == "HF cache " + snapshot.appendingPathComponent("config.json").path)
    }
  }

  @Test func anUnresolvedIDIsAUsageErrorNamingThePlaces() throws {
    try withTemporaryFolder { home throws in
      let result = try BinaryRunner.run(["fit", "acme/nothing", "--gpu", "24GB"], environment: ["HF_HOME": home.path])
      #expect(result.status == 64)
      #expect(result.standardError.contains("unknown model 'acme/nothing': looked in the presets' Hub ids"))
      #expect(result.standardError.contains("models--acme--nothing"))
      #expect(
        result.standardError.contains(
          "Not downloaded: pass --download (or set QLORA_BUDGET_DOWNLOAD=1) to fetch its config.json"))
      // Asked to download, with nothing listening: the failure names the URL.
      let refused = try BinaryRunner.run(
        ["fit", "acme/nothing", "--gpu", "24GB", "--download"],
        environment: ["HF_HOME": home.path, "HF_ENDPOINT": "http://127.0.0.1:9"])
      #expect(refused.status == 1)
      #expect(
        refused.standardError.contains(
          "cannot download the config of 'acme/nothing' from http://127.0.0.1:9/acme/nothing/resolve/main/config.json"))
      #expect(refused.standardError.split(separator: "\n").count == 1)
    }
  }

  /// fit --config gives the estimate of the run the config describes: the same as the flags
  /// that say the same thing (read off the file by hand).
  @Test(
    arguments: [
      (
        "axolotl-llama-3-qlora.yml",
        [
          "llama-3-8b", "--rank", "32", "--alpha", "16", "--lora-dropout", "0.05", "--seq-len", "4096", "--batch", "2",
          "--optimizer", "paged-adamw", "--attn", "flash", "--grad-ckpt", "true", "--recipe", "axolotl",
        ]
      ),
      (
        "llama-factory-llama3_lora_sft_otfq.yaml",
        ["llama-3-8b", "--rank", "8", "--alpha", "16", "--lora-dropout", "0", "--recipe", "llama-factory"]
      ),
      (
        "torchtune-llama3_1-8B_qlora_single_device.yaml",
        [
          "llama-3.1-8b", "--rank", "8", "--alpha", "16", "--lora-dropout", "0", "--batch", "2", "--recipe",
          "torchtune",
          "--targets", "q_proj,v_proj,k_proj,o_proj,gate_proj,up_proj,down_proj", "--grad-ckpt", "true",
        ]
      ),
      (
        "axolotl-qwen3-32b-qlora.yaml",
        [
          "qwen3-32b", "--rank", "16", "--alpha", "32", "--targets", "q_proj,k_proj,v_proj,o_proj,down_proj,up_proj",
          "--attn", "flash", "--grad-ckpt", "true", "--loss", "chunked", "--recipe", "axolotl",
        ]
      ),
      (
        "llama-factory-qwen3_lora_sft_otfq.yaml",
        ["qwen3-4b", "--rank", "8", "--lora-dropout", "0", "--recipe", "llama-factory"]
      ),
    ] as [(String, [String])])
  func aConfigGivesTheEstimateOfItsRun(_ name: String, _ flags: [String]) throws {
    let fromConfig = try BinaryRunner.run(["fit", "--config", Self.fixture(name), "--gpu", "rtx-4090", "--json"])
    let fromFlags = try BinaryRunner.run(["fit"] + flags + ["--gpu", "rtx-4090", "--json"])
    #expect([0, 2, 3].contains(fromConfig.status), "\(fromConfig.standardError)")
    #expect(fromConfig.status == fromFlags.status)
    #expect(try Self.estimate(fromConfig) == Self.estimate(fromFlags))
    let config = try #require(try BinaryRunner.json(fromConfig)["config"] as? [String: Any])
    #expect(config["path"] as? String == Self.fixture(name))
    #expect(((config["ignored"] as? [Any])?.count ?? 0) > 5)
  }

  @Test func flagsBesideTheConfigOverrideIt() throws {
    let result = try BinaryRunner.run(
      ["estimate", "--config", Self.fixture("axolotl-llama-3-qlora.yml"), "--rank", "8", "--seq-len", "1024", "--json"])
    let setup = try #require(try BinaryRunner.json(result)["setup"] as? [String: Any])
    #expect(setup["rank"] as? Int64 == 8 && setup["seq_len"] as? Int64 == 1024)
    #expect(setup["batch"] as? Int64 == 2 && setup["optimizer"] as? String == "paged-adamw")  // still the config's
    let model = try BinaryRunner.run([
      "estimate", "qwen3-8b", "--config", Self.fixture("axolotl-llama-3-qlora.yml"), "--json",
    ])
    #expect((try BinaryRunner.json(model)["model"] as? [String: Any])?["name"] as? String == "qwen3-8b")
  }

  @Test func theTextOutputSaysWhichKeysWereUsedAndIgnored() throws {
    let result = try BinaryRunner.run(["estimate", "--config", Self.fixture("axolotl-llama-3-qlora-fsdp-70b.yaml")])
    #expect(result.status == 0)
    let text = result.standardOutput
    #expect(text.contains("Config: \(Self.fixture("axolotl-llama-3-qlora-fsdp-70b.yaml")) (Axolotl)"))
    #expect(text.contains("used     lora_r (line 26) '8' -> rank 8"))
    #expect(text.contains("used     fsdp_config.fsdp_offload_params (line 75) 'true' -> offload params"))
    #expect(text.contains("ignored  model_type (3), tokenizer_type (4)"))
    #expect(result.standardError.contains("give --gpus N"))
    for line in text.split(separator: "\n") where line.hasPrefix("  ") { #expect(line.count <= 80, "\(line)") }
    // fsdp: full_shard maps onto the FSDP model once the GPU count is given.
    let sharded = try BinaryRunner.run(
      ["estimate", "--config", Self.fixture("axolotl-llama-3-qlora-fsdp-70b.yaml"), "--gpus", "2", "--json"])
    #expect(!sharded.standardError.contains("give --gpus N"))
    let setup = try #require(try BinaryRunner.json(sharded)["setup"] as? [String: Any])
    #expect(setup["gpus"] as? Int64 == 2)
    let components = try #require(try BinaryRunner.json(sharded)["components"] as? [[String: Any]])
    #expect(components.contains { $0["id"] as? String == "fsdp_gather" })
  }

  @Test func anInvalidValueNamesTheFileTheLineAndTheKey() throws {
    try withTemporaryFolder { folder throws in
      let file = folder.appendingPathComponent("run.yaml")
      try Data("base_model: Qwen/Qwen3-8B\nadapter: qlora\nlora_r: -3\n".utf8).write(to: file)
      let result = try BinaryRunner.run(["fit", "--config", file.path, "--gpu", "24GB"])
      #expect(result.status == 1)
      #expect(
        result.standardError
          == "Error: \(file.path):3: 'lora_r': the value '-3' is invalid: must be between 1 and 65536\n")
      try Data("learning_rate: 0.1\n".utf8).write(to: file)
      #expect(try BinaryRunner.run(["fit", "--config", file.path, "--gpu", "24GB"]).status == 1)
      try Data("adapter: qlora\nlora_r: 8\n".utf8).write(to: file)
      let noModel = try BinaryRunner.run(["fit", "--config", file.path, "--gpu", "24GB"])
      #expect(noModel.status == 64 && noModel.standardError.contains("The config names no model"))
    }
  }
}

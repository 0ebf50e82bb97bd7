import Foundation
import Testing

/// `fit` and `estimate` through the real binary: output, errors and exit codes.
@Suite struct FitEstimateTests {
  @Test func estimateJSONCarriesTheContract() throws {
    let result = try BinaryRunner.run(["estimate", "qwen3-14b", "--rank", "8", "--json"])
    #expect(result.status == 0)
    let json = try BinaryRunner.json(result)
    let model = try #require(json["model"] as? [String: Any])
    #expect(model["parameters"] as? Int64 == 14_768_307_200)
    // r=8 on all seven projections of Qwen3-14B: 40 layers x 8 x sum(in + out) over
    // q (5120+5120), k (5120+1024), v (5120+1024), o (5120+5120), gate/up/down (5120+17408 each).
    let perLayer: Int64 = 8 * (10240 + 6144 + 6144 + 10240 + 3 * 22528)
    #expect(json["trainable_parameters"] as? Int64 == 40 * perLayer)
    #expect(40 * perLayer == 32_112_640)  // the figure SEEDS.md quotes
    let components = try #require(json["components"] as? [[String: Any]])
    let ids = Set(components.compactMap { $0["id"] as? String })
    #expect(
      ids.isSuperset(of: ["quantized_weights", "unquantized_weights", "adapters", "gradients", "optimizer_state"]))
    for component in components {
      #expect(["gpu", "host"].contains(component["device"] as? String))
      #expect(component["formula"] is String)
    }
    let setup = try #require(json["setup"] as? [String: Any])
    #expect(setup["rank"] as? Int64 == 8)
    #expect(setup["quant"] as? String == "nf4")
  }

  /// Qwen3-14B at rank 48 on an RTX 4090 passes the card as simulated but completes with the
  /// allocator's cache released: `fit` says tight (exit 2), over by the library's process peak
  /// less the capacity, completing at the library's completing peak; the JSON carries both.
  @Test func aRunThatCompletesOnlyWithTheCacheReleasedIsTightAtTheTerminal() throws {
    let arguments = ["fit", "qwen3-14b", "--gpu", "rtx-4090", "--rank", "48"]
    let text = try BinaryRunner.run(arguments)
    #expect(text.status == 2)
    let json = try BinaryRunner.json(try BinaryRunner.run(arguments + ["--json"]))
    let peak = try #require(json["peak_process_bytes"] as? Int64)
    let reserve = try #require(json["reserve"] as? [String: Any])
    let completingReserved = try #require(reserve["completing_peak_reserved_bytes"] as? Int64)
    let reserved = try #require(json["peak_reserved_bytes"] as? Int64)
    let capacity: Int64 = 25_222_447_104  // the RTX 4090's usable 24,054 MiB (Presets/gpus/rtx-4090.json)
    #expect(json["verdict"] as? String == "tight")
    #expect(peak > capacity && completingReserved + (peak - reserved) <= capacity)
    #expect(json["completing_process_bytes"] as? Int64 == completingReserved + (peak - reserved))
    let mib = { (bytes: Int64) in String(format: "%.2f", Double(bytes) / 1_048_576) }
    #expect(text.standardOutput.contains("TIGHT, \(mib(peak - capacity)) MiB over as simulated"))
    #expect(text.standardOutput.contains("completes"))
  }

  /// A Kimi-K2-style config (`model_type` `kimi_k2`, DeepSeek-V3's layout under another name): not
  /// modelled, so refused; `--read-as deepseek_v3` reads it.
  @Test func anUnmodelledArchitectureExitsOneNamingTheModelledFamilies() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kimi-k2-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = """
      {"model_type": "kimi_k2", "hidden_size": 7168, "intermediate_size": 18432, "moe_intermediate_size": 2048,
       "num_hidden_layers": 61, "num_attention_heads": 64, "num_key_value_heads": 64, "vocab_size": 163840,
       "n_routed_experts": 384, "num_experts_per_tok": 8, "first_k_dense_replace": 1}
      """
    try Data(config.utf8).write(to: folder.appendingPathComponent("config.json"))
    let refused = try BinaryRunner.run(["fit", folder.path, "--gpu", "a100-80gb"])
    #expect(refused.status == 1)
    #expect(refused.standardOutput.isEmpty)
    #expect(refused.standardError.contains("'kimi_k2'"))
    #expect(
      refused.standardError.contains(
        "llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3, gemma3_text, phi3, mixtral, qwen2_moe, qwen3_moe, glm4_moe, deepseek_v3, gpt_oss, llama4, llama4_text, olmo2, gpt2"
      ))
    #expect(refused.standardError.contains("--read-as"))

    let readAs = try BinaryRunner.run(["estimate", folder.path, "--read-as", "deepseek_v3", "--json"])
    #expect(readAs.status == 0)
    let model = try #require(try BinaryRunner.json(readAs)["model"] as? [String: Any])
    #expect(model["model_type"] as? String == "kimi_k2")
    #expect(model["read_as"] as? String == "deepseek_v3")
    let text = try BinaryRunner.run(["estimate", folder.path, "--read-as", "llama"])
    #expect(text.standardOutput.contains("(kimi_k2 read as llama)"))
    #expect(try BinaryRunner.run(["estimate", folder.path, "--read-as", "granite"]).status == 64)
  }

  @Test func residentBytesAreTheSumOfResidentGPUComponents() throws {
    let json = try BinaryRunner.json(try BinaryRunner.run(["estimate", "llama-2-7b", "--json"]))
    let components = try #require(json["components"] as? [[String: Any]])
    let resident = components.filter { $0["device"] as? String == "gpu" && $0["lifetime"] as? String == "resident" }
      .compactMap { $0["bytes"] as? Int64 }.reduce(0, +)
    #expect(json["resident_bytes"] as? Int64 == resident)
  }

  @Test(arguments: [
    (["fit", "qwen3-14b", "--gpu", "24"], "'24GiB'"),
    (["fit", "qwen3-14b", "--gpu", "rtx-4090", "--rnak", "3"], "Did you mean '--rank'?"),
    (["fit", "qwen3-14b", "--gpu", "rtx-4090", "--rank", "-4"], "'--rank'"),
    (["fit", "qwen3-14b", "--gpu", "rtx-4090", "--rank", "1000000"], "'--rank'"),
    (["fit", "qwen3-14c", "--gpu", "rtx-4090"], "did you mean 'qwen3-14b'"),
    (["fit", "qwen3-14b", "--gpu", "rtx-4900"], "did you mean 'rtx-4090'"),
    (["fit", "qwen3-14b"], "--gpu"),
    (["estimate", "qwen3-14b", "--targets", "q_proj,wq"], "'wq'"),
    // peft 0.21.2 has no default targets for phi3 and raises (PeftDefaultTargetsTests).
    (["estimate", "phi-4", "--targets", "peft-default"], "model_type 'phi3'"),
    (["estimate", "qwen3-14b", "--blocksize", "48"], "--blocksize"),
    (["estimate", "qwen3-14b", "--lora-dropout", "nan"], "--lora-dropout"),
    (["estimate", "qwen3-14b", "--optimizer", "adam"], "--optimizer"),
    (["frobnicate"], "Unknown command"),
  ])
  func usageErrorsExitWith64AndNameTheField(_ arguments: [String], _ expected: String) throws {
    let result = try BinaryRunner.run(arguments)
    #expect(result.status == 64)
    #expect(result.standardOutput.isEmpty)
    #expect(result.standardError.hasPrefix("Error: "))
    #expect(result.standardError.contains(expected))
  }

  @Test func errorsStayOnOneLineWhateverWasTyped() throws {
    let result = try BinaryRunner.run(["fit", "qwen\nx\u{1B}[31m", "--gpu", "t4"])
    #expect(result.status == 64)
    let lines = result.standardError.split(separator: "\n")
    #expect(lines.count == 1)
    #expect(lines.first?.contains(#"'qwen\nx\u{1b}[31m'"#) == true)
  }

  @Test func aMalformedConfigIsAnErrorNamingTheProblem() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qb-config-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = folder.appendingPathComponent("config.json")

    try Data("{\"model_type\": \"llama\", \"hidden_size\": 4096".utf8).write(to: config)
    let truncated = try BinaryRunner.run(["estimate", folder.path])
    #expect(truncated.status == 1)
    #expect(truncated.standardError.contains("cannot be read"))

    try Data(#"{"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32}"#.utf8).write(to: config)
    let missing = try BinaryRunner.run(["estimate", config.path])
    #expect(missing.status == 1)
    #expect(missing.standardError.contains("'num_hidden_layers'"))

    try Data(#"{"model_type": "llama", "hidden_size": -4096, "num_hidden_layers": 2, "num_attention_heads": 32}"#.utf8)
      .write(to: config)
    let negative = try BinaryRunner.run(["estimate", config.path])
    #expect(negative.status == 1)
    #expect(negative.standardError.contains("'hidden_size' is -4096"))
  }

  @Test func theBinaryCopiedAloneStillKnowsItsPresets() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qb-alone-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let copy = folder.appendingPathComponent("qlora-budget")
    try FileManager.default.copyItem(at: BinaryRunner.binary, to: copy)
    // Tests run in parallel: a process forked by another test while the copy's write descriptor
    // was open may still hold it, and exec then fails with ETXTBSY until that child execs. Retry.
    var attempt = 0
    var launched: BinaryRunner.Result?
    while launched == nil {
      do {
        launched = try BinaryRunner.run(
          ["estimate", "llama-2-7b", "--json"], executable: copy, currentDirectory: folder)
      } catch let error as NSError where attempt < 20 && Self.isTextFileBusy(error) {
        attempt += 1
        usleep(50_000)
      }
    }
    let result = try #require(launched)
    #expect(result.status == 0)
    let model = try #require(try BinaryRunner.json(result)["model"] as? [String: Any])
    #expect(model["parameters"] as? Int64 == 6_738_415_616)
  }

  static func isTextFileBusy(_ error: NSError) -> Bool {
    let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError
    return error.code == Int(ETXTBSY) || underlying?.code == Int(ETXTBSY)
  }

  @Test func helpListsEveryOptionWithValuesAndDefaults() throws {
    let result = try BinaryRunner.run(["fit", "--help"])
    #expect(result.status == 0)
    for fragment in ["--quant <type>", "values: nf4, fp4, int8, none", "--rank <n>", "default: 16", "--recipe <name>"] {
      #expect(result.standardOutput.contains(fragment), "\(fragment)")
    }
    #expect(result.standardOutput.split(separator: "\n").allSatisfy { $0.count <= 80 })
  }
}

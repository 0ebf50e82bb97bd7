import Foundation
import NF4Quantization
import Safetensors
import Testing

/// `quantize` on a sharded model folder, and the values it refuses (issue 12).
@Suite struct ModelFolderTests {
  static func folder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("model-folder-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  static func write(_ url: URL, _ tensors: [(SafetensorsTensorSpec, [UInt8])]) throws {
    let writer = try SafetensorsWriter(url: url, tensors: tensors.map(\.0), metadata: ["format": "pt"])
    for (spec, bytes) in tensors { try writer.write(spec.name, bytes: bytes) }
    try writer.finish()
  }

  static func bf16(_ values: [Float]) -> [UInt8] { CheckpointTests.bytes(values.map { BFloat16($0) }) }

  /// Two shards with an index: an MoE layer (router + two experts), attention, norms, the
  /// embedding and the head; plus config.json, a tokenizer and a pytorch_model.bin.
  static func model(in folder: URL) throws -> [String: [Float]] {
    var weights: [String: [Float]] = [:]
    func linear(_ name: String, _ shape: [Int64], seed: UInt64) -> (SafetensorsTensorSpec, [UInt8]) {
      let values = try! SyntheticWeights.normal(count: Int(shape[0] * shape[1]), seed: seed).map {
        BFloat16($0).floatValue
      }
      weights[name] = values
      return (.init(name: name, dtype: .bf16, shape: shape), bf16(values))
    }
    let first = [
      linear("model.embed_tokens.weight", [32, 64], seed: 1),
      linear("model.layers.0.self_attn.q_proj.weight", [64, 64], seed: 2),
      (
        SafetensorsTensorSpec(name: "model.layers.0.input_layernorm.weight", dtype: .bf16, shape: [64]),
        bf16([Float](repeating: 1, count: 64))
      ),
    ]
    let second = [
      linear("model.layers.0.mlp.gate.weight", [2, 64], seed: 3),
      linear("model.layers.0.mlp.experts.0.up_proj.weight", [96, 64], seed: 4),
      linear("model.layers.0.mlp.experts.1.up_proj.weight", [96, 64], seed: 5),
      linear("lm_head.weight", [32, 64], seed: 6),
    ]
    try write(folder.appendingPathComponent("model-00001-of-00002.safetensors"), first)
    try write(folder.appendingPathComponent("model-00002-of-00002.safetensors"), second)
    let map =
      first.map { "\"\($0.0.name)\": \"model-00001-of-00002.safetensors\"" }
      + second.map { "\"\($0.0.name)\": \"model-00002-of-00002.safetensors\"" }
    try Data((#"{"metadata": {"total_size": 1}, "weight_map": {"# + map.joined(separator: ", ") + "}}").utf8)
      .write(to: folder.appendingPathComponent(CheckpointFolder.indexName))
    try Data(#"{"model_type": "qwen2_moe", "hidden_size": 64}"#.utf8).write(
      to: folder.appendingPathComponent("config.json"))
    try Data(#"{"version": "1.0"}"#.utf8).write(to: folder.appendingPathComponent("tokenizer.json"))
    try Data([1, 2, 3]).write(to: folder.appendingPathComponent("pytorch_model.bin"))
    return weights
  }

  @Test func aShardedFolderBecomesALoadableQuantizedFolder() throws {
    let root = try Self.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    let input = root.appendingPathComponent("model")
    try FileManager.default.createDirectory(at: input, withIntermediateDirectories: false)
    let weights = try Self.model(in: input)
    let output = root.appendingPathComponent("model-nf4")
    let settings = try QuantizationSettings()
    let report = try CheckpointQuantizer(settings: settings, threads: 2).quantize(input: input, output: output)

    #expect(
      Set(report.quantized) == [
        "model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.experts.0.up_proj.weight",
        "model.layers.0.mlp.experts.1.up_proj.weight",
      ])
    #expect(Set(report.keptModules) == ["lm_head", "model.layers.0.mlp.gate"])
    let names = try FileManager.default.contentsOfDirectory(atPath: output.path).sorted()
    #expect(
      names == [
        ".qlora-budget-output.json", "config.json", "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json", "tokenizer.json",
      ])

    // Every quantized weight holds exactly the engine's buffers for its bf16 values (the engine
    // is held to bitsandbytes' golden files elsewhere), read back through the new index.
    let checkpoint = try CheckpointFolder(path: output)
    for name in report.quantized {
      let (file, _) = try #require(checkpoint.locate(name))
      let (tensor, dtype) = try BnbCheckpointLayout.read(weightName: name, from: file)
      let shape = name.contains("q_proj") ? [64, 64] : [96, 64]
      #expect(
        tensor
          == (try QuantizedTensor(quantizing: weights[name]!.map { BFloat16($0) }, shape: shape, settings: settings)))
      #expect(dtype == "bfloat16")
    }
    let index = try #require(
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: output.appendingPathComponent(CheckpointFolder.indexName))) as? [String: Any])
    let map = try #require(index["weight_map"] as? [String: String])
    #expect(map.count == checkpoint.tensors.count)
    let total = checkpoint.tensors.reduce(Int64(0)) { $0 + $1.info.byteCount }
    #expect((index["metadata"] as? [String: Any])?["total_size"] as? Int64 == total)

    let config = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: output.appendingPathComponent("config.json")))
        as? [String: Any])
    #expect(config["model_type"] as? String == "qwen2_moe")
    let quantization = try #require(config["quantization_config"] as? [String: Any])
    #expect(quantization["quant_method"] as? String == "bitsandbytes")
    #expect(quantization["bnb_4bit_quant_type"] as? String == "nf4")
    #expect(quantization["bnb_4bit_use_double_quant"] as? Bool == true)
    #expect(quantization["bnb_4bit_compute_dtype"] as? String == "bfloat16")
    #expect(quantization["bnb_4bit_quant_storage"] as? String == "uint8")
    #expect(quantization["load_in_4bit"] as? Bool == true)
    #expect(quantization["llm_int8_skip_modules"] as? [String] == ["lm_head", "model.layers.0.mlp.gate"])
    #expect(try Data(contentsOf: output.appendingPathComponent("tokenizer.json")) == Data(#"{"version": "1.0"}"#.utf8))
    #expect(report.skippedFiles == ["pytorch_model.bin (weights)"])

    // A second run needs replacingExisting, and leaves no temporary behind either way.
    #expect(throws: SafetensorsError.file(.outputExists(path: output.path))) {
      try CheckpointQuantizer(settings: settings).quantize(input: input, output: output)
    }
    try CheckpointQuantizer(settings: settings).quantize(input: input, output: output, replacingExisting: true)
    #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() == ["model", "model-nf4"])
  }

  @Test func anIndexNamingAMissingTensorIsRefused() throws {
    let root = try Self.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    _ = try Self.model(in: root)
    try Data(#"{"weight_map": {"ghost.weight": "model-00001-of-00002.safetensors"}}"#.utf8)
      .write(to: root.appendingPathComponent(CheckpointFolder.indexName))
    #expect(throws: SafetensorsError.self) { try CheckpointFolder(path: root) }
    try Data(#"{"weight_map": {"a": "../../etc/passwd"}}"#.utf8).write(
      to: root.appendingPathComponent(CheckpointFolder.indexName))
    #expect(
      throws: SafetensorsError.invalidField(
        tensor: CheckpointFolder.indexName, field: "weight_map",
        value: "shard '../../etc/passwd' is not a file name in the folder")
    ) {
      try CheckpointFolder(path: root)
    }
  }

  @Test func nonFiniteWeightsAreRefusedByName() throws {
    let root = try Self.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    let input = root.appendingPathComponent("in.safetensors")
    var values = [Float](repeating: 0.01, count: 64 * 64)
    values[197] = .nan
    try Self.write(
      input, [(.init(name: "m.q_proj.weight", dtype: .f32, shape: [64, 64]), CheckpointTests.bytes(values))])
    let output = root.appendingPathComponent("out.safetensors")
    #expect {
      try CheckpointQuantizer(settings: try QuantizationSettings()).quantize(input: input, output: output)
    } throws: { error in
      guard case .nonFiniteValue(let tensor, let index, let value) = error as? QuantizationError else { return false }
      return tensor == "m.q_proj.weight" && index == 197 && value.isNaN
    }
    #expect(!FileManager.default.fileExists(atPath: output.path))
  }

  @Test func absmaxTooLargeForTheDoubleQuantizationMeanIsRefused() throws {
    let root = try Self.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    let input = root.appendingPathComponent("in.safetensors")
    // Every block's absmax is 3e38: their float32 sum overflows to infinity.
    try Self.write(
      input,
      [
        (
          .init(name: "m.q_proj.weight", dtype: .f32, shape: [64, 64]),
          CheckpointTests.bytes([Float](repeating: 3e38, count: 64 * 64))
        )
      ])
    let output = root.appendingPathComponent("out.safetensors")
    #expect(throws: QuantizationError.absmaxMeanOverflows(tensor: "m.q_proj.weight")) {
      try CheckpointQuantizer(settings: try QuantizationSettings()).quantize(input: input, output: output)
    }
    // Without double quantization the same weight is fine and the file reads back.
    try CheckpointQuantizer(settings: try QuantizationSettings(doubleQuantization: false)).quantize(
      input: input, output: output)
    #expect(try SafetensorsFile(url: output).header.tensors.count == 4)
  }

  @Test func aQuantStateOverTheLimitIsRefusedBeforeItIsRead() throws {
    let root = try Self.folder()
    defer { try? FileManager.default.removeItem(at: root) }
    let url = root.appendingPathComponent("q.safetensors")
    let size = Int(CheckpointTensorNames.maximumPackedStateBytes) + 1
    try Self.write(
      url,
      [
        (.init(name: "m.weight", dtype: .u8, shape: [32, 1]), [UInt8](repeating: 0, count: 32)),
        (
          .init(name: "m.weight.quant_state.bitsandbytes__nf4", dtype: .u8, shape: [Int64(size)]),
          [UInt8](repeating: 0x20, count: size)
        ),
      ])
    #expect(
      throws: SafetensorsError.invalidField(
        tensor: "m.weight.quant_state.bitsandbytes__nf4", field: "quant_state",
        value: "(65537 bytes, over the 65536-byte limit)")
    ) {
      try BnbCheckpointLayout.read(weightName: "m.weight", from: try SafetensorsFile(url: url))
    }
    // And an already-quantized file is not quantized again.
    #expect(throws: QuantizationError.alreadyQuantized(tensor: "m.weight.quant_state.bitsandbytes__nf4")) {
      try CheckpointQuantizer(settings: try QuantizationSettings()).quantize(
        input: url, output: root.appendingPathComponent("o.safetensors"))
    }
  }
}

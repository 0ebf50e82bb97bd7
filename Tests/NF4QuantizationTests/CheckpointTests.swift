import Foundation
import NF4Quantization
import Safetensors
import Testing

/// The bitsandbytes safetensors layout and the streaming checkpoint quantizer.
@Suite struct CheckpointTests {
  static func temporaryURL() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("nf4-checkpoint-\(UUID().uuidString).safetensors")
  }

  static func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

  /// A small model: two linear weights (bf16, fp32), an embedding, an lm_head, a norm, a bias.
  static func writeModel(to url: URL, linear: [Float], linearShape: [Int64]) throws -> [String: [UInt8]] {
    let tensors: [(SafetensorsTensorSpec, [UInt8])] = [
      (
        .init(name: "model.embed_tokens.weight", dtype: .bf16, shape: [4, 64]),
        bytes((0..<256).map { BFloat16(Float($0)) })
      ),
      (
        .init(name: "model.layers.0.mlp.up_proj.weight", dtype: .bf16, shape: linearShape),
        bytes(linear.map { BFloat16($0) })
      ),
      (.init(name: "model.layers.0.self_attn.q_proj.weight", dtype: .f32, shape: linearShape), bytes(linear)),
      (
        .init(name: "model.layers.0.self_attn.q_proj.bias", dtype: .f32, shape: [linearShape[0]]),
        bytes([Float](repeating: 0.5, count: Int(linearShape[0])))
      ),
      (.init(name: "model.norm.weight", dtype: .f32, shape: [64]), bytes([Float](repeating: 1, count: 64))),
      (.init(name: "lm_head.weight", dtype: .bf16, shape: [4, 64]), bytes((0..<256).map { BFloat16(Float($0) / 8) })),
    ]
    let writer = try SafetensorsWriter(url: url, tensors: tensors.map(\.0), metadata: ["format": "pt"])
    for (spec, data) in tensors { try writer.write(spec.name, bytes: data) }
    try writer.finish()
    return Dictionary(uniqueKeysWithValues: tensors.map { ($0.0.name, $0.1) })
  }

  @Test func quantizesLinearWeightsAndCopiesTheRest() throws {
    let (input, output) = (Self.temporaryURL(), Self.temporaryURL())
    defer { [input, output].forEach { try? FileManager.default.removeItem(at: $0) } }
    let linear = try SyntheticWeights.normal(count: 8 * 64, seed: 3)
    let original = try Self.writeModel(to: input, linear: linear, linearShape: [8, 64])
    let settings = try QuantizationSettings(type: .nf4, blockSize: 64, doubleQuantization: false)
    let report = try CheckpointQuantizer(settings: settings, threads: 2).quantize(input: input, output: output)
    #expect(Set(report.quantized) == ["model.layers.0.mlp.up_proj.weight", "model.layers.0.self_attn.q_proj.weight"])

    let file = try SafetensorsFile(url: output)
    #expect(file.header.metadata == ["format": "pt"])
    let up = "model.layers.0.mlp.up_proj.weight"
    let expectedEntries: [String: (SafetensorsDType, [Int64])] = [
      up: (.u8, [256, 1]),  // 512 elements, two a byte
      "\(up).absmax": (.f32, [8]),  // 512 / 64 blocks
      "\(up).quant_map": (.f32, [16]),
      "\(up).quant_state.bitsandbytes__nf4": (.u8, [Int64(Self.upState.utf8.count)]),
    ]
    for (name, (dtype, shape)) in expectedEntries {
      let info = try file.tensor(named: name)
      #expect(info.dtype == dtype, "\(name)")
      #expect(info.shape == shape, "\(name)")
    }
    #expect(
      String(decoding: try file.data(named: "\(up).quant_state.bitsandbytes__nf4"), as: UTF8.self) == Self.upState)
    for name in [
      "model.embed_tokens.weight", "lm_head.weight", "model.norm.weight", "model.layers.0.self_attn.q_proj.bias",
    ] {
      #expect([UInt8](try file.data(named: name)) == original[name], "\(name) copied unchanged")
    }
    // The stored buffers are exactly the engine's quantization of the bf16 values.
    let direct = try QuantizedTensor(quantizing: linear.map { BFloat16($0) }, shape: [8, 64], settings: settings)
    let (readBack, dtype) = try BnbCheckpointLayout.read(weightName: up, from: file)
    #expect(readBack == direct)
    #expect(dtype == "bfloat16")
  }

  /// `json.dumps` of `QuantState.as_dict(packed=True)`'s non-tensor items, written out by hand.
  static let upState = #"{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [8, 64]}"#

  @Test func doubleQuantizedStateRoundTrips() throws {
    let (input, output) = (Self.temporaryURL(), Self.temporaryURL())
    defer { [input, output].forEach { try? FileManager.default.removeItem(at: $0) } }
    let linear = try SyntheticWeights.normal(count: 300 * 64, seed: 4)
    _ = try Self.writeModel(to: input, linear: linear, linearShape: [300, 64])
    let settings = try QuantizationSettings(type: .fp4, blockSize: 64, doubleQuantization: true)
    try CheckpointQuantizer(settings: settings).quantize(input: input, output: output)
    let file = try SafetensorsFile(url: output)
    let name = "model.layers.0.self_attn.q_proj.weight"
    let direct = try QuantizedTensor(quantizing: linear, shape: [300, 64], settings: settings)
    let (readBack, dtype) = try BnbCheckpointLayout.read(weightName: name, from: file)
    #expect(readBack == direct)
    #expect(dtype == "float32")
    // 300 blocks: 300 uint8 codes, ceil(300 / 256) = 2 nested scales, the 256-entry map.
    #expect(try file.tensor(named: "\(name).absmax").shape == [300])
    #expect(try file.tensor(named: "\(name).absmax").dtype == .u8)
    #expect(try file.tensor(named: "\(name).nested_absmax").shape == [2])
    #expect(try file.tensor(named: "\(name).nested_quant_map").shape == [256])
    let state = String(decoding: try file.data(named: "\(name).quant_state.bitsandbytes__fp4"), as: UTF8.self)
    guard case .doubleQuantized(let nested) = direct.scales else {
      Issue.record("expected DQ")
      return
    }
    #expect(
      state
        == #"{"quant_type": "fp4", "blocksize": 64, "dtype": "float32", "shape": [300, 64], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": "#
        + "\(Double(nested.offset))}")
  }

  @Test func quantizerSkipsWhatTransformersSkips() throws {
    func info(_ name: String, _ dtype: SafetensorsDType = .bf16, _ shape: [Int64] = [8, 8]) throws
      -> SafetensorsTensorInfo
    {
      try SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: 0..<0)
    }
    #expect(CheckpointQuantizer.quantizes(try info("model.layers.3.mlp.down_proj.weight")))
    #expect(!CheckpointQuantizer.quantizes(try info("model.embed_tokens.weight")))
    #expect(!CheckpointQuantizer.quantizes(try info("transformer.wte.weight")))
    #expect(!CheckpointQuantizer.quantizes(try info("lm_head.weight")))
    #expect(!CheckpointQuantizer.quantizes(try info("model.norm.weight", .bf16, [8])))
    #expect(!CheckpointQuantizer.quantizes(try info("model.layers.0.self_attn.q_proj.bias")))
    #expect(!CheckpointQuantizer.quantizes(try info("model.layers.0.mlp.up_proj.weight", .f64)))
    #expect(!CheckpointQuantizer.quantizes(try info("model.layers.0.mlp.up_proj.weight", .u8)))
  }

  @Test func errorStatisticsByHand() throws {
    // x = [1, -1, 0, 2], x' = [1, -1, 0.5, 1]: errors 0, 0, -0.5, 1.
    let statistics = try QuantizationErrorStatistics(original: [1, -1, 0, 2], reconstructed: [1, -1, 0.5, 1])
    #expect(statistics.meanSquaredError == 1.25 / 4)
    #expect(statistics.maxAbsoluteError == 1)
    // signal 1 + 1 + 0 + 4 = 6, noise 1.25: 10 log10(4.8).
    #expect(abs(statistics.signalToNoiseDecibels - 6.812_412_373_755_872) < 1e-12)
  }

  @Test func int4RoundTripByHand() throws {
    // absmax 7: q = round(x), so 3.4 -> 3, -2.5 -> -2 (ties to even), 7 -> 7.
    #expect(try QuantizationErrorStatistics.roundToNearestInt4([3.4, -2.5, 7, 0], blockSize: 64) == [3, -2, 7, 0])
    #expect(throws: QuantizationError.invalidBlockSize(0)) {
      try QuantizationErrorStatistics.roundToNearestInt4([1], blockSize: 0)
    }
  }

  @Test func nf4BeatsInt4OnNormalWeights() throws {
    // The QLoRA paper's claim, on seeded N(0, 0.02^2) weights: NF4 has the lowest error.
    let values = try SyntheticWeights.normal(count: 64 * 256, seed: 11)
    let rows = try QuantizationErrorStatistics.compareFormats(values, blockSize: 64, doubleQuantization: false).rows
    let mse = Dictionary(uniqueKeysWithValues: rows.map { ($0.format, $0.statistics.meanSquaredError) })
    #expect(mse["nf4"]! < mse["int4"]!)
    #expect(mse["nf4"]! < mse["fp4"]!)
  }
}

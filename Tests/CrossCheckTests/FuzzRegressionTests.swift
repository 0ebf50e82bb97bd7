import Foundation
import NF4Quantization
import QLoRABudget
import QLoRABudgetInputs
import Safetensors
import Testing

/// The quant_state fuzz corpus and regressions (Tests/Fuzz/{corpus,regressions}/quantstate),
/// replayed the way Tests/Fuzz/harnesses/quantstate.swift runs them: each input becomes a
/// checkpoint file read by CheckpointInventory and BnbCheckpointLayout; each read gives a
/// value or a thrown error, never a trap.
@Suite struct QuantStateFuzzRegressionTests {
  static func inputs(_ kind: String) -> [URL] {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fuzz").appendingPathComponent(kind).appendingPathComponent("quantstate")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return names.sorted().map { folder.appendingPathComponent($0) }
  }

  static let allInputs = inputs("corpus") + inputs("regressions")
  static let shapes: [[Int]] = [[64, 4], [3, 5], [1000], [2, 3, 300]]

  /// Writes the checkpoint the harness builds from `input`; returns its path and the weights to read.
  static func checkpoint(from input: [UInt8]) throws -> (URL, [String]) {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "quantstate-\(UUID().uuidString).safetensors")
    let selector = input[0]
    let rest = Array(input.dropFirst())
    if selector == UInt8(ascii: "S") {
      try Data(rest).write(to: url)
      let names = (try? SafetensorsFile(url: url))?.header.tensors.map(\.name).filter { $0.hasSuffix(".weight") } ?? []
      return (url, names)
    }
    let settings = try QuantizationSettings(
      type: selector & 1 == 0 ? .nf4 : .fp4, blockSize: 64, doubleQuantization: selector & 2 != 0)
    let shape = shapes[Int(selector >> 2) % shapes.count]
    let values = (0..<shape.reduce(1, *)).map { Float(($0 * 7919) % 201 - 100) / 100 }
    let tensor = try QuantizedTensor(quantizing: values, shape: shape, settings: settings)
    var entries = BnbCheckpointLayout.entries(weightName: "m.weight", tensor: tensor, dtype: "bfloat16")
      .map { (spec: $0.spec, bytes: $0.bytes) }
    let state = entries.removeLast()
    entries.append((SafetensorsTensorSpec(name: state.spec.name, dtype: .u8, shape: [Int64(rest.count)]), rest))
    let writer = try SafetensorsWriter(url: url, tensors: entries.map(\.spec))
    for entry in entries { try writer.write(entry.spec.name, bytes: entry.bytes) }
    try writer.finish()
    return (url, ["m.weight"])
  }

  @Test func theCorpusIsThere() {
    #expect(Self.allInputs.count >= 20)
  }

  @Test(arguments: allInputs.map(\.lastPathComponent))
  func quantStateInputReadsOrIsRefused(_ name: String) throws {
    let input = [UInt8](try Data(contentsOf: try #require(Self.allInputs.first { $0.lastPathComponent == name })))
    guard !input.isEmpty else { return }
    let (url, weights) = try Self.checkpoint(from: input)
    defer { try? FileManager.default.removeItem(at: url) }
    if let inventory = try? CheckpointInventory(path: url) {
      for weight in inventory.fourBitWeights {
        #expect(weight.parameters >= 0 && weight.bytes > .zero, "\(weight.name)")
      }
      _ = inventory.fourBitBitsPerParameter
      _ = inventory.groups
    }
    guard let file = try? SafetensorsFile(url: url) else { return }
    for weight in weights {
      guard let (tensor, _) = try? BnbCheckpointLayout.read(weightName: weight, from: file) else { continue }
      #expect(tensor.count == tensor.shape.reduce(1, *))
      #expect(tensor.dequantized().count == tensor.count)
    }
  }

  /// The valid states the corpus starts from do read back: the replay is not vacuous.
  @Test func theCorpusValidStatesReadBack() throws {
    for url in Self.inputs("corpus") where url.lastPathComponent.hasPrefix("state-") {
      let (path, weights) = try Self.checkpoint(from: [UInt8](try Data(contentsOf: url)))
      defer { try? FileManager.default.removeItem(at: path) }
      let (tensor, dtype) = try BnbCheckpointLayout.read(weightName: weights[0], from: try SafetensorsFile(url: path))
      #expect(dtype == "bfloat16")
      let inventory = try CheckpointInventory(path: path)
      #expect(inventory.fourBitWeights.map(\.parameters) == [Int64(tensor.count)], "\(url.lastPathComponent)")
    }
  }

  /// Two weights whose quant states each claim 2^62 elements: each count fits in Int64, their
  /// sum in `fourBitBitsPerParameter` does not and trapped. A state claiming more elements than
  /// its packed codes hold (2 a byte) is now refused when the checkpoint is read.
  @Test func quantStatesClaimingMoreThanThePackedCodesAreRefused() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "quantstate-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    let state = Array(
      #"{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [4611686018427387904]}"#.utf8)
    var entries: [(SafetensorsTensorSpec, [UInt8])] = []
    for layer in 0..<2 {
      let weight = "model.layers.\(layer).mlp.down_proj.weight"
      entries.append((SafetensorsTensorSpec(name: weight, dtype: .u8, shape: [4, 1]), [0x12, 0x34, 0x56, 0x78]))
      entries.append((SafetensorsTensorSpec(name: weight + ".absmax", dtype: .f32, shape: [1]), [0, 0, 128, 63]))
      entries.append(
        (
          SafetensorsTensorSpec(
            name: weight + ".quant_state.bitsandbytes__nf4", dtype: .u8,
            shape: [Int64(state.count)]), state
        ))
    }
    let writer = try SafetensorsWriter(url: url, tensors: entries.map(\.0))
    for (spec, bytes) in entries { try writer.write(spec.name, bytes: bytes) }
    try writer.finish()
    #expect {
      _ = try CheckpointInventory(path: url).fourBitBitsPerParameter
    } throws: { error in
      "\(error)".contains("4611686018427387904") && "\(error)".contains("packed")
    }
  }

  /// Found by the quantstate harness (regressions/quantstate/crash-inventory-shape-overflow):
  /// a quant state whose shape is [2^40, 2^40] made CheckpointInventory multiply the dimensions
  /// unchecked and trap. Now: a one-line error naming the tensor and the shape; so are
  /// negative, fractional, out-of-range dimensions and a shape larger than the packed codes.
  /// `[1, 1]` over the 128 bytes of codes of a 64 x 4 weight printed hundreds of bits per
  /// parameter: a shape must give exactly the packed codes' element count ((n + 1) / 2 bytes).
  @Test(arguments: [
    "[1099511627776, 1099511627776]", "[-256]", "[2.5, 4]", "[1e30]", "[18446744073709551616]", "[64, 5]", "[1, 1]",
    "[64, 3]",
  ])
  func aQuantStateShapeThatIsNotTheWeightIsRefused(_ shape: String) throws {
    let json = #"{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": \#(shape)}"#
    let (url, _) = try Self.checkpoint(from: [0] + Array(json.utf8))
    defer { try? FileManager.default.removeItem(at: url) }
    #expect {
      _ = try CheckpointInventory(path: url)
    } throws: { error in
      let text = "\(error)"
      return text.contains("quant_state") && text.contains("shape") && !text.contains("\n")
    }
  }

  /// The same 64 x 4 weight with `blocksize` 0, negative or fractional: refused by the inventory
  /// (what `inspect` reads), naming the key; an equal element count in another shape is read.
  @Test(arguments: [("0", false), ("-64", false), ("1.5", false), ("\"64\"", false), ("64", true)])
  func aQuantStateBlockSizeMustBeAPositiveWholeNumber(_ blockSize: String, _ accepted: Bool) throws {
    let json = #"{"quant_type": "nf4", "blocksize": \#(blockSize), "dtype": "bfloat16", "shape": [256]}"#
    let (url, _) = try Self.checkpoint(from: [0] + Array(json.utf8))
    defer { try? FileManager.default.removeItem(at: url) }
    if accepted {
      #expect(try CheckpointInventory(path: url).fourBitWeights.first?.parameters == 256)
    } else {
      #expect(
        performing: { _ = try CheckpointInventory(path: url) },
        throws: { "\($0)".contains("blocksize") && !"\($0)".contains("\n") })
    }
  }
}

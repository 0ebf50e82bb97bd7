// libFuzzer harness: bitsandbytes' quant_state JSON and the checkpoint readers around it
// (BnbCheckpointLayout.read, CheckpointInventory). Built by Tests/Fuzz/run.sh; not part of the
// SwiftPM package.
//
// The first byte picks the mode:
//   'S': the rest is a whole safetensors file; CheckpointInventory reads it and every U8
//        `*.weight` with a quant state beside it is read with BnbCheckpointLayout.read.
//   otherwise: its bits pick NF4/FP4, double quantization and one of four shapes; the harness
//        writes a checkpoint of a real 4-bit weight of that kind whose
//        `weight.quant_state.bitsandbytes__*` JSON is the rest of the input, and reads it back.
// Checks: a weight that reads back dequantizes to its element count; the inventory's figures
// are non-negative.
import Foundation
import NF4Quantization
import QLoRABudget
import QLoRABudgetInputs
import Safetensors

private let path = FileManager.default.temporaryDirectory.appendingPathComponent(
  "qlora-budget-fuzz-quantstate-\(getpid()).safetensors")
private let shapes: [[Int]] = [[64, 4], [3, 5], [1000], [2, 3, 300]]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQuantState(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  guard count > 0 else { return 0 }
  let selector = start[0]
  let rest = Data(bytes: start + 1, count: count - 1)
  var weights: [String] = []
  if selector == UInt8(ascii: "S") {
    guard (try? rest.write(to: path)) != nil else { return 0 }
    if let file = try? SafetensorsFile(url: path) {
      weights = file.header.tensors.map(\.name).filter { $0.hasSuffix(".weight") }
    }
  } else {
    guard
      let settings = try? QuantizationSettings(
        type: selector & 1 == 0 ? .nf4 : .fp4, blockSize: 64, doubleQuantization: selector & 2 != 0)
    else { return 0 }
    let shape = shapes[Int(selector >> 2) % shapes.count]
    let values = (0..<shape.reduce(1, *)).map { Float(($0 * 7919) % 201 - 100) / 100 }
    guard let tensor = try? QuantizedTensor(quantizing: values, shape: shape, settings: settings) else {
      fatalError("the harness's own weight does not quantize")
    }
    var entries = BnbCheckpointLayout.entries(weightName: "m.weight", tensor: tensor, dtype: "bfloat16")
      .map { (spec: $0.spec, bytes: $0.bytes) }
    let state = entries.removeLast()  // the JSON: replaced by the input
    entries.append(
      (SafetensorsTensorSpec(name: state.spec.name, dtype: .u8, shape: [Int64(rest.count)]), [UInt8](rest)))
    guard let writer = try? SafetensorsWriter(url: path, tensors: entries.map(\.spec)) else { return 0 }
    for entry in entries { try? writer.write(entry.spec.name, bytes: entry.bytes) }
    try? writer.finish()
    weights = ["m.weight"]
  }
  if let inventory = try? CheckpointInventory(path: path) {
    require(inventory.fourBitWeights.allSatisfy { $0.parameters >= 0 }, "negative parameter count")
    _ = inventory.totalBytes
    _ = inventory.fourBitBitsPerParameter
    _ = inventory.groups
  }
  if let file = try? SafetensorsFile(url: path) {
    for name in weights {
      guard let (tensor, _) = try? BnbCheckpointLayout.read(weightName: name, from: file) else { continue }
      let output: [Float] = tensor.dequantized()
      require(output.count == tensor.count && tensor.count == tensor.shape.reduce(1, *), "dequantized count")
    }
  }
  return 0
}

/// Reports a broken invariant with its message (kept in optimized builds) and aborts.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
  guard !condition else { return }
  FileHandle.standardError.write(Data("fuzz invariant broken: \(message())\n".utf8))
  abort()
}

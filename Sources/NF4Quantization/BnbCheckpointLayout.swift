import Foundation
import Safetensors

/// bitsandbytes' safetensors layout of a 4-bit weight (what `Linear4bit` saves and
/// transformers loads as a pre-quantized checkpoint).
///
/// For a weight `W = "<module>.weight"` of shape `S` and dtype `D`, `n` elements, `nb` blocks:
///
/// | key | dtype | shape | content |
/// | --- | --- | --- | --- |
/// | `W` | U8 | [ceil(n/2), 1] | packed codes |
/// | `W.absmax` | F32 or U8 (DQ) | [nb] | absmax, or its 8-bit codes |
/// | `W.quant_map` | F32 | [16] | the 4-bit codebook |
/// | `W.nested_absmax` (DQ) | F32 | [ceil(nb/256)] | nested scales |
/// | `W.nested_quant_map` (DQ) | F32 | [256] | the dynamic map |
/// | `W.quant_state.bitsandbytes__nf4` (or `__fp4`) | U8 | [length] | UTF-8 JSON |
///
/// The JSON is `QuantState.as_dict(packed=True)`'s non-tensor part, serialized by `json.dumps`:
/// `{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [4096, 14336]}`, plus
/// with DQ `"nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": <offset>`.
/// Source: bitsandbytes 0.50.2 `functional.QuantState.as_dict` / `from_dict`, `utils.pack_dict_to_tensor`.
public enum BnbCheckpointLayout {
  /// One tensor of the layout: its header entry and little-endian bytes.
  public struct Entry: Sendable {
    public let spec: SafetensorsTensorSpec
    public let bytes: [UInt8]
  }

  /// The entries of `tensor` saved as `weightName` whose original dtype was `dtype`
  /// (`float32`, `float16` or `bfloat16`), in bitsandbytes' state-dict order.
  public static func entries(weightName: String, tensor: QuantizedTensor, dtype: String) -> [Entry] {
    [Entry(spec: .init(name: weightName, dtype: .u8, shape: [Int64(tensor.packed.count), 1]), bytes: tensor.packed)]
      + stateEntries(
        weightName: weightName, settings: tensor.settings, shape: tensor.shape, scales: tensor.scales, dtype: dtype)
  }

  /// The entries after the packed codes (absmax, maps, nested scales, the JSON state), for a
  /// weight whose codes are written separately (in pieces, by the checkpoint quantizer).
  static func stateEntries(
    weightName: String, settings: QuantizationSettings, shape: [Int], scales: BlockScales, dtype: String
  ) -> [Entry] {
    var entries: [Entry] = []
    func add(_ suffix: String, _ dtype: SafetensorsDType, _ bytes: [UInt8]) {
      let count = Int64(bytes.count) / dtype.byteSize
      entries.append(Entry(spec: .init(name: "\(weightName).\(suffix)", dtype: dtype, shape: [count]), bytes: bytes))
    }
    var state: [(String, String)] = [
      ("quant_type", json(settings.type.rawValue)), ("blocksize", "\(settings.blockSize)"),
      ("dtype", json(dtype)), ("shape", "[\(shape.map(String.init).joined(separator: ", "))]"),
    ]
    switch scales {
    case .float32(let absmax):
      add("absmax", .f32, littleEndianBytes(absmax))
      add("quant_map", .f32, littleEndianBytes(settings.type.codebook))
    case .doubleQuantized(let nested):
      add("absmax", .u8, nested.codes)
      add("quant_map", .f32, littleEndianBytes(settings.type.codebook))
      add("nested_absmax", .f32, littleEndianBytes(nested.nestedAbsmax))
      add("nested_quant_map", .f32, littleEndianBytes(DynamicMap.values))
      state += [
        ("nested_blocksize", "\(DoubleQuantizedAbsmax.nestedBlockSize)"), ("nested_dtype", json("float32")),
        ("nested_offset", "\(Double(nested.offset))"),
      ]
    }
    let text = "{" + state.map { "\(json($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    add(CheckpointTensorNames.packedStatePrefix + settings.type.rawValue, .u8, Array(text.utf8))
    return entries
  }

  /// The header entries of `weightName` quantized with `settings`, in the order of
  /// ``entries(weightName:tensor:dtype:)`` but without the quant-state JSON (its length depends
  /// on the data; see ``stateName(weightName:type:)``): sizes follow from the shape alone.
  ///
  /// - Throws: ``QuantizationError`` for an invalid or empty shape.
  public static func specs(weightName: String, shape: [Int64], settings: QuantizationSettings) throws(QuantizationError)
    -> [SafetensorsTensorSpec]
  {
    let count = try checkedElementCount(shape.map { Int(clamping: $0) })
    guard count > 0 else { throw .emptyTensor(shape: shape.map { Int(clamping: $0) }) }
    let blocks = Int64((count - 1) / settings.blockSize + 1)
    var specs = [SafetensorsTensorSpec(name: weightName, dtype: .u8, shape: [Int64(count / 2 + count % 2), 1])]
    if settings.doubleQuantization {
      specs += [
        .init(name: "\(weightName).absmax", dtype: .u8, shape: [blocks]),
        .init(name: "\(weightName).quant_map", dtype: .f32, shape: [16]),
        .init(name: "\(weightName).nested_absmax", dtype: .f32, shape: [(blocks + 255) / 256]),
        .init(name: "\(weightName).nested_quant_map", dtype: .f32, shape: [256]),
      ]
    } else {
      specs += [
        .init(name: "\(weightName).absmax", dtype: .f32, shape: [blocks]),
        .init(name: "\(weightName).quant_map", dtype: .f32, shape: [16]),
      ]
    }
    return specs
  }

  /// The name of a weight's packed quant-state JSON.
  public static func stateName(weightName: String, type: FourBitType) -> String {
    "\(weightName).\(CheckpointTensorNames.packedStatePrefix)\(type.rawValue)"
  }

  /// Reads the 4-bit weight `weightName` from `file`, validating every buffer.
  ///
  /// Bounded: every buffer's size is checked in the header against what the state's shape and
  /// block size imply before it is read, and the JSON against ``CheckpointTensorNames.maximumPackedStateBytes``, so no read
  /// is larger than the weight it describes.
  ///
  /// - Returns: the tensor and the original dtype recorded in its state.
  /// - Throws: ``SafetensorsError`` for a missing or mis-sized tensor, ``QuantizationError`` for
  ///   state that does not fit together or a codebook other than bitsandbytes'.
  public static func read(weightName: String, from file: SafetensorsFile) throws -> (
    tensor: QuantizedTensor, dtype: String
  ) {
    guard
      let stateInfo = FourBitType.allCases.lazy.compactMap({
        file.header.tensor(named: stateName(weightName: weightName, type: $0))
      }).first
    else { throw SafetensorsError.unknownTensor(stateName(weightName: weightName, type: .nf4)) }
    let stateKey = stateInfo.name
    guard stateInfo.byteCount <= CheckpointTensorNames.maximumPackedStateBytes else {
      throw SafetensorsError.invalidField(
        tensor: stateKey, field: "quant_state",
        value: "(\(stateInfo.byteCount) bytes, over the \(CheckpointTensorNames.maximumPackedStateBytes)-byte limit)")
    }
    let stateObject = try? JSONSerialization.jsonObject(with: file.data(for: stateInfo))
    guard let state = stateObject as? [String: Any] else {
      throw SafetensorsError.invalidField(tensor: stateKey, field: "quant_state", value: "(not a JSON object)")
    }
    let typeName = state["quant_type"] as? String ?? "?"
    guard let type = FourBitType(rawValue: typeName) else { throw QuantizationError.unknownQuantType(typeName) }
    guard let blockSize = (state["blocksize"] as? NSNumber)?.intValue, let shapeNumbers = state["shape"] as? [NSNumber]
    else {
      throw SafetensorsError.invalidField(tensor: stateKey, field: "blocksize/shape", value: "(missing)")
    }
    let shape = shapeNumbers.map(\.intValue)
    let isDoubleQuantized = file.header.tensor(named: "\(weightName).nested_absmax") != nil
    let settings = try QuantizationSettings(type: type, blockSize: blockSize, doubleQuantization: isDoubleQuantized)
    // The expected size of every buffer, checked before it is read.
    for spec in try specs(weightName: weightName, shape: shape.map(Int64.init), settings: settings) {
      let info = try file.tensor(named: spec.name)
      guard info.dtype == spec.dtype, info.byteCount == spec.byteCount else {
        throw SafetensorsError.invalidField(
          tensor: spec.name, field: "dtype/shape",
          value:
            "\(info.dtype.rawValue) \(info.shape) (\(info.byteCount) bytes; the state's shape \(shape) needs \(spec.dtype.rawValue), \(spec.byteCount ?? -1) bytes)"
        )
      }
    }
    let dtype = state["dtype"] as? String ?? "float32"
    let codebook: [Float] = try floats(file, "\(weightName).quant_map")
    guard codebook.map(\.bitPattern) == type.codebook.map(\.bitPattern) else {
      throw QuantizationError.unknownCodebook(buffer: "quant_map")
    }
    let packed = [UInt8](try file.data(named: weightName))
    let scales: BlockScales
    if isDoubleQuantized {
      let map = try floats(file, "\(weightName).nested_quant_map")
      guard map.map(\.bitPattern) == DynamicMap.values.map(\.bitPattern) else {
        throw QuantizationError.unknownCodebook(buffer: "nested_quant_map")
      }
      let offset = Float((state["nested_offset"] as? NSNumber)?.doubleValue ?? .nan)
      scales = .doubleQuantized(
        try DoubleQuantizedAbsmax(
          codes: [UInt8](try file.data(named: "\(weightName).absmax")),
          nestedAbsmax: try floats(file, "\(weightName).nested_absmax"), offset: offset))
    } else {
      scales = .float32(try floats(file, "\(weightName).absmax"))
    }
    let tensor = try QuantizedTensor(type: type, blockSize: blockSize, shape: shape, packed: packed, scales: scales)
    return (tensor, dtype)
  }

  private static func floats(_ file: SafetensorsFile, _ name: String) throws -> [Float] {
    let info = try file.tensor(named: name)
    guard info.dtype == .f32 else {
      throw SafetensorsError.invalidField(tensor: name, field: "dtype", value: "'\(info.dtype.rawValue)'")
    }
    let data = try file.data(for: info)
    return data.withUnsafeBytes { raw in
      (0..<(raw.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
    }
  }

  static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
  }

  private static func json(_ text: String) -> String { SafetensorsWriter.quoted(text) }
}

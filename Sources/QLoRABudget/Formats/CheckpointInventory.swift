import Foundation
import Safetensors

/// What a checkpoint tensor is, by name, dtype and shape (Hugging Face naming conventions).
public enum CheckpointTensorRole: String, CaseIterable, Sendable {
  /// bitsandbytes' packed 4-bit codes (`<module>.weight`, U8, with a quant state beside it).
  case fourBitPacked = "4-bit packed"
  /// bitsandbytes' per-weight state: absmax, quant_map, nested_*, the packed JSON.
  case quantState = "quant state"
  case embedding
  case lmHead = "lm_head"
  case norm
  /// A 2-D `*.weight` that is none of the above: a linear projection.
  case linear
  case bias
  case other
}

/// Every tensor of a safetensors checkpoint (one file or a folder of shards), classified by
/// role, with exact bytes from the headers; for 4-bit checkpoints, the measured bits per
/// parameter of the quantized weights.
///
/// Classification, first rule that applies: bitsandbytes state keys (`.weight.absmax`,
/// `.quant_map`, `.nested_absmax`, `.nested_quant_map`, `.quant_state.bitsandbytes__*`) ->
/// quant state; a U8 `.weight` with such state -> 4-bit packed; embedding and output-head
/// modules (``CheckpointTensorNames``) -> embedding / lm_head; a 1-D tensor in a module whose
/// name contains `norm` or starts with `ln` -> norm; `.bias` -> bias; a 2-D `.weight` -> linear;
/// anything else -> other.
public struct CheckpointInventory: Sendable {
  public struct Tensor: Hashable, Sendable {
    public let name: String
    public let role: CheckpointTensorRole
    public let dtype: SafetensorsDType
    public let shape: [Int64]
    public let bytes: ByteCount
    /// The file (shard) that holds it.
    public let file: String
  }

  /// A 4-bit weight: the parameters it stands for and all its buffers' bytes.
  public struct FourBitWeight: Hashable, Sendable {
    public let name: String
    /// The original element count, from the shape in its quant state.
    public let parameters: Int64
    /// The buffers bitsandbytes holds in memory for it: packed codes, absmax, quant_map and,
    /// with double quantization, nested_absmax, nested_quant_map and the 4-byte float32 offset
    /// (stored in the JSON); the JSON text itself is not a buffer. Equals
    /// `FourBitWeightBuffers.total`.
    public let bytes: ByteCount
  }

  public let tensors: [Tensor]
  public let fourBitWeights: [FourBitWeight]
  /// The shards read, in order.
  public let files: [URL]

  /// Reads the headers of `path`: a `.safetensors` file, or every `.safetensors` file in a folder.
  ///
  /// - Throws: ``SafetensorsError`` for an unreadable or invalid file, or a folder without shards.
  public init(path: URL) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory) else {
      throw SafetensorsError.io(path: path.path, reason: "no such file or directory")
    }
    if isDirectory.boolValue {
      let names = try FileManager.default.contentsOfDirectory(atPath: path.path).filter { $0.hasSuffix(".safetensors") }.sorted()
      guard !names.isEmpty else { throw SafetensorsError.io(path: path.path, reason: "no .safetensors files in the folder") }
      files = names.map { path.appendingPathComponent($0) }
    } else {
      files = [path]
    }
    // A weight's quant state may sit in another shard than its packed codes: index every shard first.
    let opened = try files.map { try SafetensorsFile(url: $0) }
    var located: [String: (file: SafetensorsFile, info: SafetensorsTensorInfo)] = [:]
    for file in opened {
      for info in file.header.tensors { located[info.name] = (file, info) }
    }
    let names = Set(located.keys)
    var tensors: [Tensor] = []
    var fourBit: [FourBitWeight] = []
    for file in opened {
      for info in file.header.tensors {
        let role = Self.role(of: info, names: names)
        tensors.append(Tensor(name: info.name, role: role, dtype: info.dtype, shape: info.shape,
                              bytes: ByteCount(info.byteCount), file: file.url.lastPathComponent))
        if role == .fourBitPacked {
          let state = located.values.filter { $0.info.name.hasPrefix(info.name + ".") }
          fourBit.append(try Self.fourBitWeight(info, state: state))
        }
      }
    }
    self.tensors = tensors
    self.fourBitWeights = fourBit
  }

  /// The total bytes of all tensors.
  public var totalBytes: ByteCount { ByteCount.sum(tensors.map(\.bytes)) }

  /// Measured bits per parameter over all 4-bit weights: `8 * bytes / parameters`, nil if none.
  public var fourBitBitsPerParameter: Double? {
    let parameters = fourBitWeights.reduce(Int64(0)) { $0 + $1.parameters }
    guard parameters > 0 else { return nil }
    return 8 * Double(ByteCount.sum(fourBitWeights.map(\.bytes)).bytes) / Double(parameters)
  }

  /// Tensors grouped by role and dtype: count, elements and bytes, in role order.
  public var groups: [(role: CheckpointTensorRole, dtype: SafetensorsDType, count: Int, elements: Int64, bytes: ByteCount)] {
    var result: [(CheckpointTensorRole, SafetensorsDType, Int, Int64, ByteCount)] = []
    for role in CheckpointTensorRole.allCases {
      let ofRole = tensors.filter { $0.role == role }
      for dtype in SafetensorsDType.allCases {
        let group = ofRole.filter { $0.dtype == dtype }
        guard !group.isEmpty else { continue }
        let elements = group.reduce(Int64(0)) { $0 + $1.shape.reduce(1, *) }
        result.append((role, dtype, group.count, elements, ByteCount.sum(group.map(\.bytes))))
      }
    }
    return result
  }

  /// The role of one tensor; `names` are all tensor names of the checkpoint.
  public static func role(of info: SafetensorsTensorInfo, names: Set<String>) -> CheckpointTensorRole {
    let name = info.name
    if let range = name.range(of: ".weight.") {
      let suffix = name[range.upperBound...]
      if CheckpointTensorNames.quantStateSuffixes.contains(String(suffix)) || suffix.hasPrefix(CheckpointTensorNames.packedStatePrefix) {
        return .quantState
      }
    }
    if info.dtype == .u8, name.hasSuffix(".weight"),
      names.contains(where: { $0.hasPrefix(name + "." + CheckpointTensorNames.packedStatePrefix) }) {
      return .fourBitPacked
    }
    if CheckpointTensorNames.isEmbedding(name) { return .embedding }
    if CheckpointTensorNames.isOutputHead(name) { return .lmHead }
    let module = CheckpointTensorNames.modulePath(name).last.map { $0.lowercased() } ?? ""
    if info.shape.count == 1, module.contains("norm") || module.hasPrefix("ln") { return .norm }
    if name.hasSuffix(".bias") { return .bias }
    if name.hasSuffix(".weight"), info.shape.count == 2 { return .linear }
    return .other
  }

  /// The parameters and buffer bytes of a 4-bit weight, from its quant-state JSON.
  private static func fourBitWeight(
    _ packed: SafetensorsTensorInfo, state: [(file: SafetensorsFile, info: SafetensorsTensorInfo)]
  ) throws -> FourBitWeight {
    let json = state.first { $0.info.name.contains(CheckpointTensorNames.packedStatePrefix) }
    var parameters: Int64 = 0
    if let json, let object = try? JSONSerialization.jsonObject(with: json.file.data(for: json.info)) as? [String: Any],
      let shape = object["shape"] as? [NSNumber] {
      parameters = try elementCount(shape, tensor: json.info.name)
      // No more elements than the packed codes hold (2 a byte): also keeps sums over weights
      // (fourBitBitsPerParameter) far from overflow.
      guard parameters <= 2 * packed.byteCount else {
        throw SafetensorsError.invalidField(
          tensor: json.info.name, field: "shape",
          value: "\(shape.map { "\($0)" }.joined(separator: "x")) (\(parameters) elements, \(packed.byteCount) packed bytes)")
      }
    }
    let buffers = state.map(\.info).filter { $0.name != json?.info.name }
    let offset = ByteCount(buffers.contains { $0.name.hasSuffix(".nested_absmax") } ? 4 : 0)
    let bytes = ByteCount(packed.byteCount) + ByteCount.sum(buffers.map { ByteCount($0.byteCount) }) + offset
    return FourBitWeight(name: packed.name, parameters: parameters, bytes: bytes)
  }

  /// The element count of a quant state's `shape`: whole, non-negative, and without overflow.
  private static func elementCount(_ shape: [NSNumber], tensor: String) throws -> Int64 {
    var count: Int64 = 1
    for dimension in shape {
      let value = dimension.doubleValue
      guard let whole = Int64(exactly: value), whole >= 0 else {
        throw SafetensorsError.invalidField(tensor: tensor, field: "shape", value: "\(dimension)")
      }
      let (product, overflow) = count.multipliedReportingOverflow(by: whole)
      guard !overflow else {
        throw SafetensorsError.invalidField(tensor: tensor, field: "shape", value: shape.map { "\($0)" }.joined(separator: "x"))
      }
      count = product
    }
    return count
  }
}

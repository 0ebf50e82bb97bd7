import Foundation
import QLoRABudget
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
    /// The product of the dimensions (computed without overflow: at most the byte count).
    public let elements: Int64
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

  /// Reads the headers of `path`: a `.safetensors` file, or a model folder (its index and
  /// shards, or every `.safetensors` file; see ``CheckpointFolder``).
  ///
  /// Linear in the number of tensors: bitsandbytes' state keys are grouped by the weight they
  /// belong to in one pass, and each packed-state JSON (at most
  /// ``CheckpointTensorNames/maximumPackedStateBytes``, checked from the header) is read once.
  ///
  /// - Throws: ``SafetensorsError`` for an unreadable or invalid file, a folder without shards,
  ///   a tensor in two shards, or a quant state that is not a JSON object with a valid shape.
  public init(path: URL) throws {
    let checkpoint = try CheckpointFolder(path: path)
    files = checkpoint.shards.map(\.url)
    // A weight's quant state may sit in another shard than its packed codes.
    var states: [Substring: [(file: SafetensorsFile, info: SafetensorsTensorInfo)]] = [:]
    var count = 0
    for shard in checkpoint.shards {
      count += shard.header.tensors.count
      for info in shard.header.tensors {
        if let owner = CheckpointTensorNames.quantStateOwner(info.name) {
          states[owner, default: []].append((shard, info))
        }
      }
    }
    var tensors: [Tensor] = []
    var fourBit: [FourBitWeight] = []
    tensors.reserveCapacity(count)
    for shard in checkpoint.shards {
      let shardName = shard.url.lastPathComponent
      for info in shard.header.tensors {
        let state = states.isEmpty ? [] : states[Substring(info.name)] ?? []
        let role = Self.role(
          of: info, hasPackedState: state.contains { CheckpointTensorNames.isPackedState($0.info.name) })
        tensors.append(
          Tensor(
            name: info.name, role: role, dtype: info.dtype, shape: info.shape, elements: info.elementCount,
            bytes: ByteCount(info.byteCount), file: shardName))
        if role == .fourBitPacked { fourBit.append(try Self.fourBitWeight(info, state: state)) }
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

  /// Tensors grouped by role and dtype: count, elements and bytes, in role order (then dtype
  /// order), summed in one pass.
  public var groups:
    [(role: CheckpointTensorRole, dtype: SafetensorsDType, count: Int, elements: Int64, bytes: ByteCount)]
  {
    let roles = CheckpointTensorRole.allCases
    let dtypes = SafetensorsDType.allCases
    var counts = [Int](repeating: 0, count: roles.count * dtypes.count)
    var elements = [Int64](repeating: 0, count: counts.count)
    var bytes = [ByteCount](repeating: ByteCount(0), count: counts.count)
    // A search of the few cases, not a dictionary: hashing the role and the dtype of a million
    // tensors cost more than summing them.
    tensors.withUnsafeBufferPointer { tensors in
      for tensor in tensors {
        let cell = roles.firstIndex(of: tensor.role)! * dtypes.count + dtypes.firstIndex(of: tensor.dtype)!
        counts[cell] += 1
        elements[cell] += tensor.elements
        bytes[cell] = bytes[cell] + tensor.bytes
      }
    }
    var result: [(CheckpointTensorRole, SafetensorsDType, Int, Int64, ByteCount)] = []
    for (r, role) in roles.enumerated() {
      for (d, dtype) in dtypes.enumerated() where counts[r * dtypes.count + d] > 0 {
        let cell = r * dtypes.count + d
        result.append((role, dtype, counts[cell], elements[cell], bytes[cell]))
      }
    }
    return result
  }

  /// The role of one tensor; `hasPackedState` says whether the checkpoint holds a
  /// `<name>.quant_state.bitsandbytes__*` entry for it.
  public static func role(of info: SafetensorsTensorInfo, hasPackedState: Bool) -> CheckpointTensorRole {
    let name = info.name
    if CheckpointTensorNames.quantStateOwner(name) != nil { return .quantState }
    let isWeight = CheckpointTensorNames.hasSuffix(name, ".weight")
    if info.dtype == .u8, isWeight, hasPackedState { return .fourBitPacked }
    let traits = CheckpointTensorNames.traits(name)
    if traits.isEmbedding { return .embedding }
    if traits.isOutputHead { return .lmHead }
    if info.shape.count == 1, traits.isNormModule { return .norm }
    if CheckpointTensorNames.hasSuffix(name, ".bias") { return .bias }
    if isWeight, info.shape.count == 2 { return .linear }
    return .other
  }

  /// The parameters and buffer bytes of a 4-bit weight, from its quant-state JSON.
  private static func fourBitWeight(
    _ packed: SafetensorsTensorInfo, state: [(file: SafetensorsFile, info: SafetensorsTensorInfo)]
  ) throws -> FourBitWeight {
    let json = state.first { CheckpointTensorNames.isPackedState($0.info.name) }
    var parameters: Int64 = 0
    if let json {
      guard json.info.byteCount <= CheckpointTensorNames.maximumPackedStateBytes else {
        throw SafetensorsError.invalidField(
          tensor: json.info.name, field: "quant_state",
          value: "(\(json.info.byteCount) bytes, over the \(CheckpointTensorNames.maximumPackedStateBytes)-byte limit)")
      }
      guard let object = (try? JSONSerialization.jsonObject(with: json.file.data(for: json.info))) as? [String: Any],
        let shape = object["shape"] as? [NSNumber]
      else {
        throw SafetensorsError.invalidField(
          tensor: json.info.name, field: "quant_state", value: "(not a JSON object with a 'shape')")
      }
      parameters = try elementCount(shape, tensor: json.info.name)
      // Exactly the elements the packed codes hold: bitsandbytes packs n codes into
      // (n + 1) / 2 bytes. A shape that disagrees would give a made-up bits-per-parameter, and
      // the bound keeps sums over weights (fourBitBitsPerParameter) far from overflow.
      guard packed.byteCount == parameters / 2 + parameters % 2 else {
        throw SafetensorsError.invalidField(
          tensor: json.info.name, field: "shape",
          value:
            "\(shape.map { "\($0)" }.joined(separator: "x")) (\(parameters) elements need \(parameters / 2 + parameters % 2) packed bytes; "
            + "the codes are \(packed.byteCount))")
      }
      if let blockSize = object["blocksize"] {
        guard let number = blockSize as? NSNumber, let whole = Int64(exactly: number.doubleValue), whole >= 1 else {
          throw SafetensorsError.invalidField(
            tensor: json.info.name, field: "blocksize", value: "\(blockSize) (a block holds at least 1 element)")
        }
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
        throw SafetensorsError.invalidField(
          tensor: tensor, field: "shape", value: shape.map { "\($0)" }.joined(separator: "x"))
      }
      count = product
    }
    return count
  }
}

import FileSafety
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The safetensors files of a checkpoint: one file, or a model folder of shards
/// (`model-00001-of-00004.safetensors` ... with `model.safetensors.index.json`, whose
/// `weight_map` names the shard of every tensor), opened and cross-checked, with every tensor
/// located by name in constant time.
///
/// A folder with an index uses exactly the shards the index names (plain file names inside the
/// folder); every tensor the index lists must be in its shard and every tensor of a shard must
/// be listed. Without an index, every `*.safetensors` file of the folder is a shard (hidden
/// files skipped). A tensor name in two shards is refused.
///
/// Bounds: at most ``maximumShardCount`` shards, ``maximumTensorCount`` tensors over all of
/// them, and an index of at most ``maximumIndexBytes`` bytes (parsed without building JSON
/// objects, like a header).
public struct CheckpointFolder: Sendable {
  public static let maximumShardCount = 10_000
  public static let maximumTensorCount = 2_000_000
  public static let maximumIndexBytes: Int64 = 100_000_000
  /// The index file name transformers writes.
  public static let indexName = "model.safetensors.index.json"

  /// The folder, or nil for a single file.
  public let folder: URL?
  /// The shards, in file-name order.
  public let shards: [SafetensorsFile]
  /// The index file read, if any.
  public let index: URL?
  /// Shard and position in its header of every tensor (two 32-bit numbers: 2 million entries
  /// take tens of megabytes, not a second copy of every entry).
  private let locations: [String: (shard: Int32, position: Int32)]

  /// Opens `path`: a `.safetensors` file or a model folder.
  public init(path: URL) throws(SafetensorsError) {
    let text = path.path
    guard !path.relativePath.isEmpty, !text.isEmpty else { throw .file(.emptyPath) }
    var status = stat()
    guard stat(text, &status) == 0 else { throw .file(.system(text, "open")) }
    guard FileStatus.isDirectory(status) else {
      folder = nil
      index = nil
      shards = [try SafetensorsFile(url: path)]
      locations = try Self.locate(shards)
      return
    }
    folder = path
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: text).sorted()
    } catch {
      throw .file(.failed(path: text, action: "list the folder", reason: "not a readable folder"))
    }
    let indexURL = path.appendingPathComponent(Self.indexName)
    let shardNames: [String]
    var weightMap: [String: String]?
    if names.contains(Self.indexName) {
      index = indexURL
      let map = try Self.weightMap(indexURL)
      guard Set(map.values).count <= Self.maximumShardCount else {
        throw .file(
          .tooLarge(
            path: indexURL.path, size: Int64(Set(map.values).count), limit: Int64(Self.maximumShardCount),
            what: "the number of shards"))
      }
      for shard in Set(map.values) where shard.contains("/") || shard.hasPrefix(".") || shard.isEmpty {
        throw .invalidField(
          tensor: Self.indexName, field: "weight_map", value: "shard '\(shard)' is not a file name in the folder")
      }
      shardNames = Set(map.values).sorted()
      weightMap = map
    } else {
      index = nil
      shardNames = names.filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") }
      guard shardNames.count <= Self.maximumShardCount else {
        throw .file(
          .tooLarge(
            path: text, size: Int64(shardNames.count), limit: Int64(Self.maximumShardCount),
            what: "the number of shards"))
      }
    }
    guard !shardNames.isEmpty else { throw .io(path: text, reason: "no .safetensors files in the folder") }
    var shards: [SafetensorsFile] = []
    var total = 0
    for name in shardNames {
      let shard = try SafetensorsFile(url: path.appendingPathComponent(name))
      total += shard.header.tensors.count
      guard total <= Self.maximumTensorCount else { throw .tooManyTensors(limit: Self.maximumTensorCount) }
      shards.append(shard)
    }
    self.shards = shards
    locations = try Self.locate(shards)
    if let weightMap {
      let names = shards.map(\.url.lastPathComponent)
      for (number, shard) in shards.enumerated() {
        for info in shard.header.tensors where weightMap[info.name] != names[number] {
          throw .invalidField(tensor: info.name, field: "weight_map", value: "not listed for '\(names[number])'")
        }
      }
      if let missing = weightMap.keys.first(where: { locate($0) == nil }) {
        throw .invalidField(
          tensor: missing, field: "weight_map", value: "'\(weightMap[missing] ?? "")', which does not hold it")
      }
    }
  }

  /// The shard and entry of the tensor `name`.
  public func locate(_ name: String) -> (file: SafetensorsFile, info: SafetensorsTensorInfo)? {
    if shards.count == 1 { return shards[0].header.tensor(named: name).map { (shards[0], $0) } }
    return locations[name].map { (shards[Int($0.shard)], shards[Int($0.shard)].header.tensors[Int($0.position)]) }
  }

  /// Every tensor, shard by shard, in data order.
  public var tensors: [(file: SafetensorsFile, info: SafetensorsTensorInfo)] {
    shards.flatMap { shard in shard.header.tensors.map { (shard, $0) } }
  }

  /// The identities of the files read, with their paths (to protect them from being written).
  public var inputIdentities: [FileIdentity: String] {
    var identities: [FileIdentity: String] = [:]
    for shard in shards { identities[shard.identity] = shard.url.path }
    if let index, let identity = FileIdentity(path: index.path) { identities[identity] = index.path }
    return identities
  }

  /// The locations of a folder's tensors, refusing a name in two shards; empty for one shard,
  /// whose header already finds a name.
  private static func locate(_ shards: [SafetensorsFile]) throws(SafetensorsError) -> [String: (
    shard: Int32, position: Int32
  )] {
    guard shards.count > 1 else { return [:] }
    var locations: [String: (shard: Int32, position: Int32)] = [:]
    locations.reserveCapacity(shards.reduce(0) { $0 + $1.header.tensors.count })
    for (number, shard) in shards.enumerated() {
      for (position, info) in shard.header.tensors.enumerated() {
        guard locations.updateValue((Int32(number), Int32(position)), forKey: info.name) == nil else {
          throw .duplicateTensor(info.name)
        }
      }
    }
    return locations
  }

  /// The `weight_map` of an index: tensor name -> shard file name.
  private static func weightMap(_ url: URL) throws(SafetensorsError) -> [String: String] {
    let data: Data
    do {
      data = try ReadableFile.contents(of: url.path, limit: maximumIndexBytes, what: "a safetensors index")
    } catch {
      throw .file(error)
    }
    let bytes = [UInt8](data)
    guard String(validating: bytes, as: UTF8.self) != nil else {
      throw .io(path: url.path, reason: "the index is not UTF-8 text")
    }
    var map: [String: String]?
    var result: Result<Void, SafetensorsError> = .success(())
    bytes.withUnsafeBufferPointer { buffer in
      result = Result { () throws(SafetensorsError) in
        var scanner = HeaderScanner(buffer)
        try scanner.object { (scanner, key) throws(SafetensorsError) in
          guard key == "weight_map" else {
            try scanner.skipValue()
            return
          }
          var entries: [String: String] = [:]
          guard scanner.peek() == UInt8(ascii: "{") else {
            throw .invalidField(tensor: indexName, field: "weight_map", value: "(not an object)")
          }
          try scanner.object { (scanner, name) throws(SafetensorsError) in
            guard scanner.peek() == UInt8(ascii: "\"") else {
              throw .invalidField(tensor: name, field: "weight_map", value: "(not a file name)")
            }
            guard entries.count < maximumTensorCount else { throw .tooManyTensors(limit: maximumTensorCount) }
            guard entries.updateValue(try scanner.string(), forKey: name) == nil else { throw .duplicateTensor(name) }
          }
          map = entries
        }
        guard scanner.peek() == nil else { throw scanner.failure("unexpected text after the object") }
      }
    }
    do {
      try result.get()
    } catch let .headerNotJSON(reason) {
      throw .io(path: url.path, reason: "the index is not a JSON object: \(reason)")
    } catch {
      throw error
    }
    guard let map else { throw .invalidField(tensor: indexName, field: "weight_map", value: "'missing'") }
    return map
  }
}

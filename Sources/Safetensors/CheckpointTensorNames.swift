import Foundation

/// Naming conventions of Hugging Face checkpoints that both the quantizer and the inventory
/// rely on: which tensors are embeddings or the output head, and bitsandbytes' 4-bit keys.
///
/// Sources: transformers `integrations/bitsandbytes.py` (`get_keys_to_not_convert`: the output
/// embedding and tied weights stay unquantized; only `nn.Linear` layers are replaced) and the
/// module names of the Llama, Qwen, Mistral, Gemma, GPT-2, GPT-NeoX, OPT, BERT and T5 families.
public enum CheckpointTensorNames {
  /// Module names of input and position embeddings.
  public static let embeddingModules: Set<String> = [
    "embed_tokens", "wte", "wpe", "embed_positions", "embed_in", "word_embeddings",
    "position_embeddings", "token_type_embeddings", "shared", "tok_embeddings",
  ]
  /// Module names of the output projection to the vocabulary.
  public static let outputHeadModules: Set<String> = ["lm_head", "embed_out", "output"]

  /// bitsandbytes' per-weight state keys, after `<module>.weight.`.
  public static let quantStateSuffixes = ["absmax", "quant_map", "nested_absmax", "nested_quant_map"]
  /// The key of the packed JSON state: `<module>.weight.quant_state.bitsandbytes__<type>`.
  public static let packedStatePrefix = "quant_state.bitsandbytes__"
  /// The largest packed JSON state a reader accepts (bitsandbytes writes about 200 bytes):
  /// checked from the header, before the entry is read.
  public static let maximumPackedStateBytes: Int64 = 65_536

  /// Whether `name` is a packed quant-state JSON key (`<weight>.quant_state.bitsandbytes__<type>`).
  public static func isPackedState(_ name: String) -> Bool {
    guard let owner = quantStateOwner(name) else { return false }
    return name.utf8.dropFirst(owner.utf8.count + 1).starts(with: packedStatePrefix.utf8)
  }

  /// The weight a bitsandbytes state key belongs to (`m.weight.absmax` -> `m.weight`), nil
  /// for any other tensor.
  public static func quantStateOwner(_ name: String) -> Substring? {
    // The last ".weight." in the name, found on the UTF-8 bytes (this runs once per tensor).
    var copy = name
    let marker: StaticString = ".weight."
    let length = marker.utf8CodeUnitCount
    let found: Int? = copy.withUTF8 { bytes in
      guard bytes.count > length else { return nil }
      var index = bytes.count - length
      while index >= 0 {
        // The first byte alone rules out most positions (no call per byte).
        if bytes[index] == UInt8(ascii: "."), memcmp(bytes.baseAddress! + index, marker.utf8Start, length) == 0 {
          return index
        }
        index -= 1
      }
      return nil
    }
    guard let found else { return nil }
    let utf8 = name.utf8
    let suffix = name[utf8.index(utf8.startIndex, offsetBy: found + length)...]
    guard quantStateSuffixes.contains(where: { $0 == suffix }) || suffix.hasPrefix(packedStatePrefix) else {
      return nil
    }
    return name[..<utf8.index(utf8.startIndex, offsetBy: found + length - 1)]
  }

  /// Whether `name`'s UTF-8 bytes end with `suffix`'s (`.weight`, `.bias`): one `memcmp`, no
  /// generic sequence walk (`inspect` asks twice for each of a million names).
  public static func hasSuffix(_ name: String, _ suffix: StaticString) -> Bool {
    var name = name
    let length = suffix.utf8CodeUnitCount
    return name.withUTF8 { bytes in
      bytes.count >= length && memcmp(bytes.baseAddress! + (bytes.count - length), suffix.utf8Start, length) == 0
    }
  }

  /// The module path components of a tensor name (`model.layers.0.mlp.up_proj.weight` ->
  /// `[model, layers, 0, mlp, up_proj]`).
  public static func modulePath(_ name: String) -> [Substring] {
    Array(name.split(separator: ".").dropLast())
  }

  /// Whether the tensor belongs to an input or position embedding.
  public static func isEmbedding(_ name: String) -> Bool { traits(name).isEmbedding }

  /// Whether the tensor belongs to the output head (`lm_head`, GPT-NeoX's `embed_out`, or a
  /// top-level `output`).
  public static func isOutputHead(_ name: String) -> Bool { traits(name).isOutputHead }

  /// What a tensor's module path says about it, read in one pass over the name's UTF-8 bytes
  /// (no splitting, no strings built: `inspect` classifies a million names).
  ///
  /// The path is ``modulePath(_:)``: the dot-separated components, empty ones skipped, without
  /// the last (the tensor's own name); the *module* is the path's last component.
  public struct Traits: Hashable, Sendable {
    /// A path component is an embedding module (``embeddingModules``).
    public var isEmbedding = false
    /// The module is an output head (``outputHeadModules``; `output` only at depth 1 or 2).
    public var isOutputHead = false
    /// The module is an MoE router (``routerModules``).
    public var isRouter = false
    /// The module's name contains `norm` or starts with `ln`, ignoring case (LayerNorm,
    /// RMSNorm, `ln_f`).
    public var isNormModule = false

    /// Nothing known (every flag false).
    public init() {}
  }

  public static func traits(_ name: String) -> Traits {
    var name = name
    return name.withUTF8 { traits(bytes: $0) }
  }

  static let embeddingModuleBytes = embeddingModules.map { Array($0.utf8) }
  static let outputHeadModuleBytes = outputHeadModules.map { Array($0.utf8) }
  static let routerModuleBytes = routerModules.map { Array($0.utf8) }

  static func traits(bytes: UnsafeBufferPointer<UInt8>) -> Traits {
    let dot = UInt8(ascii: ".")
    var traits = Traits()
    var components = 0
    var module: Range<Int>?
    var leaf: Range<Int>?
    var i = 0
    while i < bytes.count {
      let start = i
      while i < bytes.count, bytes[i] != dot { i += 1 }
      if i > start {
        if let previous = leaf {
          // The previous component is followed by another: it is part of the module path.
          if contains(embeddingModuleBytes, bytes, previous) { traits.isEmbedding = true }
          module = previous
        }
        leaf = start..<i
        components += 1
      }
      i += 1
    }
    guard let module else { return traits }
    let depth = components - 1
    traits.isOutputHead =
      contains(outputHeadModuleBytes, bytes, module) && (depth <= 2 || !equals(bytes, module, "output"))
    traits.isRouter = contains(routerModuleBytes, bytes, module)
    traits.isNormModule = startsWithLN(bytes, module) || containsNorm(bytes, module)
    return traits
  }

  private static func contains(_ names: [[UInt8]], _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
    names.contains { name in
      name.count == range.count
        && name.withUnsafeBufferPointer {
          memcmp($0.baseAddress!, bytes.baseAddress! + range.lowerBound, range.count) == 0
        }
    }
  }

  private static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ word: StaticString) -> Bool {
    range.count == word.utf8CodeUnitCount
      && memcmp(word.utf8Start, bytes.baseAddress! + range.lowerBound, range.count) == 0
  }

  /// ASCII lower case (a non-ASCII character never lower-cases to an ASCII letter of `norm` or `ln`).
  private static func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

  private static func startsWithLN(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
    range.count >= 2 && lower(bytes[range.lowerBound]) == UInt8(ascii: "l")
      && lower(bytes[range.lowerBound + 1]) == UInt8(ascii: "n")
  }

  private static func containsNorm(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
    guard range.count >= 4 else { return false }
    for start in range.lowerBound...(range.upperBound - 4)
    where lower(bytes[start]) == UInt8(ascii: "n") && lower(bytes[start + 1]) == UInt8(ascii: "o")
      && lower(bytes[start + 2]) == UInt8(ascii: "r") && lower(bytes[start + 3]) == UInt8(ascii: "m")
    {
      return true
    }
    return false
  }
}

extension CheckpointTensorNames {
  /// Module names of MoE routers (Mixtral's `block_sparse_moe.gate`, Qwen-MoE's `mlp.gate`,
  /// others' `router`): a small `[experts, hidden]` linear layer that 4-bit recipes keep in
  /// 16-bit, since routing decisions are sensitive to its error.
  public static let routerModules: Set<String> = ["gate", "router"]

  /// Whether the tensor belongs to an MoE router.
  public static func isRouter(_ name: String) -> Bool { traits(name).isRouter }
}

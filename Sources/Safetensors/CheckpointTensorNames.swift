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
    let marker = Array(".weight.".utf8)
    let bytes = name.utf8
    guard bytes.count > marker.count else { return nil }
    var index = bytes.index(bytes.endIndex, offsetBy: -marker.count)
    while true {
      if bytes[index...].starts(with: marker) { break }
      guard index > bytes.startIndex else { return nil }
      index = bytes.index(before: index)
    }
    let suffixStart = bytes.index(index, offsetBy: marker.count)
    let suffix = name[suffixStart...]
    guard quantStateSuffixes.contains(String(suffix)) || suffix.hasPrefix(packedStatePrefix) else { return nil }
    return name[..<bytes.index(index, offsetBy: marker.count - 1)]
  }


  /// The module path components of a tensor name (`model.layers.0.mlp.up_proj.weight` ->
  /// `[model, layers, 0, mlp, up_proj]`).
  public static func modulePath(_ name: String) -> [Substring] {
    Array(name.split(separator: ".").dropLast())
  }

  /// Whether the tensor belongs to an input or position embedding.
  public static func isEmbedding(_ name: String) -> Bool {
    modulePath(name).contains { embeddingModules.contains(String($0)) }
  }

  /// Whether the tensor belongs to the output head (`lm_head`, GPT-NeoX's `embed_out`, or a
  /// top-level `output`).
  public static func isOutputHead(_ name: String) -> Bool {
    let path = modulePath(name)
    return path.last.map { outputHeadModules.contains(String($0)) } == true && (path.count <= 2 || path.last != "output")
  }
}

extension CheckpointTensorNames {
  /// Module names of MoE routers (Mixtral's `block_sparse_moe.gate`, Qwen-MoE's `mlp.gate`,
  /// others' `router`): a small `[experts, hidden]` linear layer that 4-bit recipes keep in
  /// 16-bit, since routing decisions are sensitive to its error.
  public static let routerModules: Set<String> = ["gate", "router"]

  /// Whether the tensor belongs to an MoE router.
  public static func isRouter(_ name: String) -> Bool {
    modulePath(name).last.map { routerModules.contains(String($0)) } == true
  }
}

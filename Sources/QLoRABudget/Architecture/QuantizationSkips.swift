import Foundation

/// The decoder projections a pre-quantized checkpoint keeps out of quantization: its
/// `quantization_config.llm_int8_skip_modules` (unsloth's dynamic 4-bit checkpoints list whole
/// layers' `mlp` or `self_attn`). transformers passes the list to `replace_with_bnb_linear` as
/// `modules_to_not_convert`, so those `nn.Linear` modules are never swapped for `Linear4bit` /
/// `Linear8bitLt`: they load in the dtype the checkpoint stores them in and stay plain frozen
/// weights, which prepare_model_for_kbit_training upcasts like every other 16-bit parameter.
///
/// Matching is transformers 5.25's `quantizers_utils.should_convert_module`: a pattern skips a
/// module when it matches the module's full name from its start up to a module boundary as a
/// regular expression (`re.match(rf"(?:{key})(?:(?<=\.)|(?=\.|$))", name)`), or when the name
/// ends with it (`name.endswith(key)`). Full names are the causal LM's: `model.layers.N.<path>`
/// (`model.language_model.layers.N.<path>` under a multimodal wrapper, `transformer.h.N.<path>`
/// for GPT-2). Only modules with one instance per layer are matched (MoE experts are fused
/// parameters in transformers 5, never quantized anyway).
struct QuantizationSkips: Hashable, Sendable {
  let patterns: [String]

  /// How many instances of each module path (one per layer) the patterns keep unquantized.
  func skippedInstances(_ inventory: ModuleInventory, layers: Int64, prefix: String) -> [String: Int64] {
    let matchers = patterns.map(Matcher.init)
    var skipped: [String: Int64] = [:]
    for module in inventory.linears where module.instanceCount == layers && layers <= Self.maximumLayersMatched {
      let count = Self.skippedLayers(module.path, matchers, layers: layers, prefix: prefix).count
      if count > 0 { skipped[module.path] = Int64(count) }
    }
    return skipped
  }

  /// The layers (from 0) in which the patterns keep the module at `path` unquantized.
  func skippedLayers(of path: String, layers: Int64, prefix: String) -> [Int64] {
    guard layers <= Self.maximumLayersMatched else { return [] }
    return Self.skippedLayers(path, patterns.map(Matcher.init), layers: layers, prefix: prefix)
  }

  private static func skippedLayers(_ path: String, _ matchers: [Matcher], layers: Int64, prefix: String) -> [Int64] {
    (0..<layers).filter { layer in
      let name = "\(prefix).\(layer).\(path)"
      return matchers.contains { $0.matches(name) }
    }
  }

  /// Names are built one per layer; a config with more layers than any model has is refused
  /// elsewhere, and the matching stops here rather than building millions of names.
  static let maximumLayersMatched: Int64 = 4096

  /// One pattern, compiled once.
  private struct Matcher {
    let pattern: String
    let expression: NSRegularExpression?

    init(_ pattern: String) {
      self.pattern = pattern
      // Python's `re` and ICU agree on the patterns configs use (literal names, `.*`, `\d+`);
      // one ICU refuses is matched literally.
      expression = try? NSRegularExpression(pattern: "(?:\(pattern))(?:(?<=\\.)|(?=\\.|$))")
    }

    func matches(_ name: String) -> Bool {
      if name.hasSuffix(pattern) { return true }
      guard let expression else { return name == pattern || name.hasPrefix(pattern + ".") }
      return expression.firstMatch(in: name, options: [.anchored], range: NSRange(name.startIndex..., in: name)) != nil
    }
  }
}

extension ModelArchitecture {
  /// The decoder linear modules of `roles` that bitsandbytes quantizes: the checkpoint's
  /// `llm_int8_skip_modules` instances taken out (a module every instance of which is skipped
  /// is left out).
  public func quantizedLinears(in roles: Set<LinearModule.Role>) -> [LinearModule] {
    let linears = inventory.linears(in: roles)
    guard let skipped = checkpointQuantization?.skippedInstances, !skipped.isEmpty else { return linears }
    return linears.compactMap { module in
      let kept = module.instanceCount - (skipped[module.path] ?? 0)
      guard kept > 0 else { return nil }
      return LinearModule(
        path: module.path, inFeatures: module.inFeatures, outFeatures: module.outFeatures, hasBias: module.hasBias,
        instanceCount: kept, role: module.role, input: module.input)
    }
  }

  /// The layers in which the checkpoint's `llm_int8_skip_modules` keeps `module` unquantized.
  func skippedLayers(of module: LinearModule) -> Set<Int64> {
    guard let quantization = checkpointQuantization, let skips = quantization.skips,
      quantization.skippedInstances[module.path] != nil
    else { return [] }
    return Set(skips.skippedLayers(of: module.path, layers: layerCount, prefix: layerNamePrefix))
  }

  /// Elements of the linear weights of `roles` the checkpoint's `llm_int8_skip_modules` keeps unquantized.
  public func skippedLinearElements(in roles: Set<LinearModule.Role>) -> Int64 {
    ModuleInventory.weightElements(inventory.linears(in: roles))
      - ModuleInventory.weightElements(quantizedLinears(in: roles))
  }

  /// Where the decoder layers sit in the causal LM's module names.
  var layerNamePrefix: String {
    if modelType == "gpt2" || readAs == "gpt2" { return "transformer.h" }
    return wrapperModelType == nil ? "model.layers" : "model.language_model.layers"
  }
}

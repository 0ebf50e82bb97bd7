/// The `quantization_config` a pre-quantized checkpoint's config.json carries (transformers
/// writes its `BitsAndBytesConfig` there when a quantized model is saved, as unsloth's
/// `-bnb-4bit` models are). Loading such a checkpoint uses it, whatever `BitsAndBytesConfig` the
/// training script passes (transformers `quantizers/auto.py` `merge_quantization_configs` keeps
/// the checkpoint's), so the estimate applies it after the training config; a setting given
/// afterwards (a command-line flag) overrides it, for a what-if.
package struct CheckpointQuantization: Hashable, Sendable {
  /// One key of `quantization_config` read, and the setting it gives.
  public struct Field: Hashable, Sendable {
    /// `quantization_config.bnb_4bit_quant_type`.
    public let key: String
    /// The value as written.
    public let value: String
    public let change: SettingChange
  }

  /// `quant_method` (`bitsandbytes`, or another method that is not modelled).
  public let method: String
  public let fields: [Field]
  /// What the estimate does not model here, and what it does instead.
  public private(set) var notes: [String]
  /// `llm_int8_skip_modules`, the patterns of the modules left unquantized.
  let skips: QuantizationSkips?
  /// Decoder module path -> how many of its instances `llm_int8_skip_modules` keeps
  /// unquantized (``resolveSkips(_:layers:prefix:)``).
  public private(set) var skippedInstances: [String: Int64] = [:]
  /// The decoder modules `llm_int8_skip_modules` keeps unquantized, in words
  /// (`mlp.down_proj in 2 of 16 layers`): counted with the unquantized weights.
  public private(set) var keptUnquantized: [String] = []

  public var changes: [SettingChange] { fields.map(\.change) }

  /// The fields whose settings `changes` (given after the checkpoint, e.g. flags) replace, each
  /// with the change that replaced it; the others are the ones estimated.
  public func overridden(by changes: [SettingChange]) -> (
    used: [Field], overridden: [(field: Field, change: SettingChange)]
  ) {
    let replacing = Dictionary(changes.map { ($0.setting, $0) }, uniquingKeysWith: { _, last in last })
    var used: [Field] = []
    var overridden: [(field: Field, change: SettingChange)] = []
    for field in fields {
      if let change = replacing[field.change.setting] { overridden.append((field, change)) } else { used.append(field) }
    }
    return (used, overridden)
  }

  /// The checkpoint's settings applied over `setup`.
  public func apply(to setup: inout TrainingSetup) {
    setup = SettingChange.apply(changes, to: setup)
  }

  /// Reads `quantization_config` from a config.json's members; nil when there is none.
  ///
  /// - Throws: ``ArchitectureError/invalidValue(key:value:reason:model:)`` naming the key for a
  ///   value of the wrong type or a quant type bitsandbytes does not have.
  init?(config members: [String: JSONValue], model: String) throws(ArchitectureError) {
    guard let value = members["quantization_config"], value != .null else { return nil }
    let prefix = "quantization_config."
    guard let config = value.objectValue else {
      throw .invalidValue(
        key: "quantization_config", value: ConfigReader.render(value), reason: "expected an object", model: model)
    }
    func bool(_ key: String) throws(ArchitectureError) -> Bool? {
      switch config[key] {
      case nil, .null?: return nil
      case .bool(let flag)?: return flag
      case let other?:
        throw .invalidValue(
          key: prefix + key, value: ConfigReader.render(other), reason: "expected true or false", model: model)
      }
    }
    func text(_ key: String) throws(ArchitectureError) -> String? {
      switch config[key] {
      case nil, .null?: return nil
      case .string(let text)?: return text
      case let other?:
        throw .invalidValue(
          key: prefix + key, value: ConfigReader.render(other), reason: "expected a string", model: model)
      }
    }
    let method = try text("quant_method") ?? "bitsandbytes"
    self.method = method
    guard method == "bitsandbytes" else {
      fields = []
      skips = nil
      notes = [
        "quant_method '\(method)' is not modelled; estimated with the quantization the setup names (bitsandbytes)"
      ]
      return
    }
    var fields: [Field] = []
    var notes: [String] = []
    if try bool("load_in_4bit") == true {
      // BitsAndBytesConfig's defaults: fp4, no double quantization.
      let typeName = try text("bnb_4bit_quant_type") ?? "fp4"
      guard let type = BaseQuantization(rawValue: typeName), type.isFourBit else {
        throw .invalidValue(
          key: prefix + "bnb_4bit_quant_type", value: "'\(typeName)'", reason: "bitsandbytes has nf4 and fp4",
          model: model)
      }
      let doubleQuant = try bool("bnb_4bit_use_double_quant") ?? false
      fields.append(Field(key: prefix + "load_in_4bit", value: "true", change: .quantization(type)))
      fields.append(
        Field(
          key: prefix + "bnb_4bit_use_double_quant", value: String(doubleQuant),
          change: .doubleQuantization(doubleQuant)))
      if let dtypeName = try text("bnb_4bit_compute_dtype") {
        if let dtype = FrameworkVocabulary.computeDtype(dtypeName) {
          fields.append(Field(key: prefix + "bnb_4bit_compute_dtype", value: dtypeName, change: .computeDtype(dtype)))
        } else {
          notes.append("bnb_4bit_compute_dtype '\(dtypeName)' is not modelled; the setup's compute dtype is used")
        }
      }
    } else if try bool("load_in_8bit") == true {
      fields.append(Field(key: prefix + "load_in_8bit", value: "true", change: .quantization(.int8)))
    }
    switch config["llm_int8_skip_modules"] {
    case nil, .null?: skips = nil
    case .array(let skipped)?:
      var names: [String] = []
      for element in skipped {
        guard case .string(let name) = element else {
          throw .invalidValue(
            key: prefix + "llm_int8_skip_modules", value: ConfigReader.render(element), reason: "expected module names",
            model: model)
        }
        names.append(name)
      }
      skips = QuantizationSkips(patterns: names)
    case let other?:
      throw .invalidValue(
        key: prefix + "llm_int8_skip_modules", value: ConfigReader.render(other),
        reason: "expected a list of module names", model: model)
    }
    self.fields = fields
    self.notes = notes
  }

  /// The modules bitsandbytes never quantizes whatever the list says (transformers keeps
  /// lm_head and the embeddings out of the swap; they are outside the decoder layers).
  private static let neverQuantized: Set<String> = ["lm_head", "embed_tokens", "wte", "wpe", "score"]

  /// Resolves `llm_int8_skip_modules` against the decoder's modules (full names
  /// `<prefix>.N.<path>`, N < `layers`): ``keptUnquantized`` says what it keeps, ``notes`` which
  /// of its names match no decoder module.
  mutating func resolveSkips(_ inventory: ModuleInventory, layers: Int64, prefix: String) {
    guard let skips else { return }
    skippedInstances = skips.skippedInstances(inventory, layers: layers, prefix: prefix)
    keptUnquantized = inventory.linears.filter { skippedInstances[$0.path] != nil }.map { module in
      "\(module.path) in \(skippedInstances[module.path] ?? 0) of \(layers) layers"
    }
    let unmatched = skips.patterns.filter { pattern in
      !Self.neverQuantized.contains(pattern)
        && QuantizationSkips(patterns: [pattern]).skippedInstances(inventory, layers: layers, prefix: prefix).isEmpty
    }
    if !unmatched.isEmpty {
      notes.append("llm_int8_skip_modules \(unmatched.joined(separator: ", ")) matches no decoder linear module")
    }
  }

}

import FileSafety
import Foundation
import QLoRABudget
import Safetensors

/// A training run as its framework's config file defines it (LLaMA-Factory, Axolotl, HF
/// `TrainingArguments` / TRL `SFTConfig` JSON with PEFT and `BitsAndBytesConfig` fields, PEFT's
/// `adapter_config.json`, torchtune), mapped onto the estimator's settings.
///
/// Every key is accounted for: ``used`` (with the setting it gave), ``notModelled`` (recognised,
/// but the estimator does not model it: the note says what was estimated instead), or
/// ``ignored`` (no bearing on memory, or unknown); after ``overridden(by:)``, a key whose
/// settings later changes replaced is in ``overridden`` instead of ``used``. The framework's own
/// defaults for keys the file leaves out, and only those, are in ``defaults``. Values of the wrong type or out of range are errors
/// naming the file, the line and the key.
public struct TrainingConfig: Hashable, Sendable {
  public enum Format: String, Hashable, Sendable, CaseIterable {
    case llamaFactory = "LLaMA-Factory"
    case axolotl = "Axolotl"
    case huggingFace = "HF TrainingArguments/SFTConfig"
    case peftAdapter = "PEFT adapter_config.json"
    case torchtune = "torchtune"
  }

  /// A key as it appears in the file: nested keys joined with dots (`model.lora_rank`).
  public struct Key: Hashable, Sendable {
    public let name: String
    /// 1-based line; 0 for a framework default (no line in the file).
    public let line: Int
  }

  /// A key the estimate uses, and what it set.
  public struct Use: Hashable, Sendable {
    public let key: Key
    /// The value as written.
    public let value: String
    public let changes: [SettingChange]
    /// What the key means for the estimate when it changes no setting (e.g. packing).
    public let remark: String?

    /// `rank 32, quant nf4`, or the remark.
    public var effect: String {
      (changes.map { "\($0.setting.rawValue) \($0.valueText)" } + (remark.map { [$0] } ?? [])).joined(separator: ", ")
    }
  }

  /// A key recognised but not modelled, and what the estimate does instead.
  public struct Note: Hashable, Sendable {
    public let key: Key
    public let note: String
    /// The nearest modelled settings the estimate uses instead (applied with the used keys).
    public let changes: [SettingChange]
  }

  /// A key whose setting a change given after the config (a command-line flag) replaced: the
  /// file's value is not the one estimated.
  public struct Override: Hashable, Sendable {
    public let key: Key
    /// The value as written.
    public let value: String
    /// The change that replaced what the key set.
    public let change: SettingChange
  }

  public let path: String
  public let format: Format
  /// The model the config names (a Hub id or a path), if any.
  public internal(set) var model: String?
  public internal(set) var modelKey: Key?
  public internal(set) var used: [Use] = []
  /// The framework's defaults for settings the file leaves out, applied before ``used``.
  public internal(set) var defaults: [Use] = []
  public internal(set) var notModelled: [Note] = []
  /// Keys whose settings were all replaced by later changes (``overridden(by:)``); a key only
  /// partly replaced stays in ``used`` with what it still sets.
  public internal(set) var overridden: [Override] = []
  public internal(set) var ignored: [Key] = []
  /// Keys whose value is empty (`key:` or `null`): treated as not given.
  public internal(set) var emptyKeys: [Key] = []
  /// The config shards the model (FSDP, or a DeepSpeed config) over GPUs it does not count (the launcher does):
  /// the estimate is per GPU for the number given with `--gpus`.
  public internal(set) var shardsOverGPUs = false
  /// The DeepSpeed config a `deepspeed` key names (read beside the config or in the current
  /// folder), applied after the config's own keys as `--deepspeed` would be.
  public internal(set) var deepSpeedConfig: Data?

  /// Reads a config; `path` names the file in messages and picks nothing else (the format is
  /// recognised from the keys).
  public init(data: Data, path: String) throws(TrainingConfigError) {
    let root: YAMLNode
    do {
      root = try YAMLReader.parse(data)
    } catch {
      throw TrainingConfigError(path: path, line: error.line, error.message)
    }
    guard let entries = root.entries else {
      throw TrainingConfigError(path: path, line: root.line, "the top level is not a mapping of keys to values")
    }
    let format = try Self.format(of: root, path: path)
    self.path = path
    self.format = format
    var reading = ConfigReading(path: path, root: entries)
    switch format {
    case .llamaFactory: try reading.readLlamaFactory()
    case .axolotl: try reading.readAxolotl()
    case .huggingFace: try reading.readHuggingFace()
    case .peftAdapter: try reading.readPeftAdapter(prefix: "")
    case .torchtune: try reading.readTorchtune()
    }
    reading.dropReplacedDefaults()
    model = reading.model
    modelKey = reading.modelKey
    used = reading.used
    defaults = reading.defaults
    notModelled = reading.notModelled
    shardsOverGPUs = reading.shardsOverGPUs || reading.deepSpeedConfig != nil
    deepSpeedConfig = reading.deepSpeedConfig
    (ignored, emptyKeys) = reading.unusedKeys()
  }

  /// Reads the file at `path`: a regular file, read as ``InputFile/trainingConfig``.
  public init(contentsOf path: String) throws(TrainingConfigError) {
    let data: Data
    do {
      data = try InputFile.trainingConfig.contents(of: path)
    } catch {
      throw TrainingConfigError(path: path, "cannot read the file: \(error.reason)")
    }
    try self.init(data: data, path: path)
  }

  /// Applies the framework's defaults, the nearest settings of keys not modelled, then every
  /// used key, in the file's order. Without an alpha, alpha follows the rank
  /// (``LoRAConfiguration/defaultAlpha(rank:)``).
  public func apply(to setup: inout TrainingSetup) {
    let changes = defaults.flatMap(\.changes) + notModelled.flatMap(\.changes) + used.flatMap(\.changes)
    setup = SettingChange.apply(changes, to: setup)
    if !changes.contains(where: { $0.setting == .alpha }), changes.contains(where: { $0.setting == .rank }) {
      setup.lora.givenAlpha = nil
    }
    // Read and checked when the config was read, so this cannot fail.
    if let deepSpeedConfig { try? DeepSpeedConfigFile.apply(deepSpeedConfig, to: &setup) }
  }

  /// The setup the config describes, from the tool's defaults.
  public var setup: TrainingSetup {
    var setup = TrainingSetup()
    apply(to: &setup)
    return setup
  }

  /// The accounting once `changes` (given after the config, e.g. on the command line) are
  /// applied: a used key whose every setting they replace moves to ``overridden``, one partly
  /// replaced keeps the rest; a default they replace was not applied and is dropped.
  public func overridden(by changes: [SettingChange]) -> TrainingConfig {
    var result = self
    let replacing = Dictionary(changes.map { ($0.setting, $0) }, uniquingKeysWith: { _, last in last })
    result.used = []
    for use in used {
      let replaced = use.changes.filter { replacing[$0.setting] != nil }
      for change in replaced {
        result.overridden.append(Override(key: use.key, value: use.value, change: replacing[change.setting] ?? change))
      }
      let kept = use.changes.filter { replacing[$0.setting] == nil }
      if replaced.isEmpty || !kept.isEmpty {
        result.used.append(Use(key: use.key, value: use.value, changes: kept, remark: use.remark))
      }
    }
    result.defaults = defaults.compactMap { use in
      let kept = use.changes.filter { replacing[$0.setting] == nil }
      return kept.isEmpty ? nil : Use(key: use.key, value: use.value, changes: kept, remark: use.remark)
    }
    return result
  }

  /// Which framework wrote the config, from the keys only it uses.
  static func format(of root: YAMLNode, path: String) throws(TrainingConfigError) -> Format {
    let has = { (key: String) in root[key].map { !$0.isNull } ?? false }
    if root["model"]?["_component_"] != nil { return .torchtune }
    if has("peft_type") { return .peftAdapter }
    if has("base_model") || has("adapter") || has("sequence_len") || has("micro_batch_size") { return .axolotl }
    let llamaFactoryKeys = ["finetuning_type", "stage", "lora_target", "quantization_bit", "cutoff_len", "template"]
    if llamaFactoryKeys.contains(where: has) { return .llamaFactory }
    let huggingFaceKeys = [
      "per_device_train_batch_size", "output_dir", "optim", "gradient_checkpointing", "max_seq_length", "max_length",
      "quantization_config", "peft_config", "model_name_or_path",
    ]
    if huggingFaceKeys.contains(where: has) { return .huggingFace }
    throw TrainingConfigError(
      path: path, line: root.line,
      "not a config this tool reads: no key of LLaMA-Factory (model_name_or_path, finetuning_type, ...), Axolotl "
        + "(base_model, adapter, ...), HF TrainingArguments/SFTConfig (per_device_train_batch_size, ...), PEFT "
        + "(peft_type) or torchtune (model._component_)")
  }
}

extension TrainingSetup {
  /// The run a training config describes on `model`: the tool's defaults, the config's keys,
  /// then a pre-quantized checkpoint's own `quantization_config`, which transformers keeps over
  /// the script's (``CheckpointQuantization``). Settings given afterwards override all three.
  public static func configured(by config: TrainingConfig?, model: ModelArchitecture) -> TrainingSetup {
    var setup = config?.setup ?? TrainingSetup()
    model.checkpointQuantization?.apply(to: &setup)
    return setup
  }
}

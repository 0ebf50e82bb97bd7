import Foundation
import Safetensors

/// The `quantization_config` transformers writes into `config.json` for a bitsandbytes 4-bit
/// model (`BitsAndBytesConfig.to_dict()`, transformers 4.4x), which it reads back to load a
/// pre-quantized checkpoint.
///
/// The block size is not a field of `BitsAndBytesConfig`: bitsandbytes reads it from each
/// weight's `quant_state` JSON. `llm_int8_skip_modules` lists the modules left in 16-bit
/// (output head, MoE routers) by full module name; transformers skips a module when an entry
/// is a substring of its name.
public enum TransformersQuantizationConfig {
  /// The `quantization_config` object, as JSON text indented for `config.json`.
  public static func json(settings: QuantizationSettings, computeDtype: String, skipModules: [String]) -> String {
    let skip = skipModules.isEmpty ? "null" : "[" + skipModules.map(quoted).joined(separator: ", ") + "]"
    let members: [(String, String)] = [
      ("_load_in_4bit", "true"), ("_load_in_8bit", "false"),
      ("bnb_4bit_compute_dtype", quoted(computeDtype)), ("bnb_4bit_quant_storage", quoted("uint8")),
      ("bnb_4bit_quant_type", quoted(settings.type.rawValue)),
      ("bnb_4bit_use_double_quant", settings.doubleQuantization ? "true" : "false"),
      ("llm_int8_enable_fp32_cpu_offload", "false"), ("llm_int8_has_fp16_weight", "false"),
      ("llm_int8_skip_modules", skip), ("llm_int8_threshold", "6.0"),
      ("load_in_4bit", "true"), ("load_in_8bit", "false"), ("quant_method", quoted("bitsandbytes")),
    ]
    return "{\n" + members.map { "    \(quoted($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n  }"
  }

  /// `config` (the model's `config.json` text, a JSON object) with `quantization_config` added
  /// as its last member; every other byte is kept as it was.
  ///
  /// - Throws: ``ConfigError`` if the text is not a JSON object or already holds a
  ///   `quantization_config` (the model is already quantized).
  public static func adding(_ quantizationConfig: String, to config: Data, path: String) throws -> Data {
    guard let object = (try? JSONSerialization.jsonObject(with: config)) as? [String: Any] else {
      throw ConfigError(path: path, reason: "not a JSON object")
    }
    guard object["quantization_config"] == nil else {
      throw ConfigError(path: path, reason: "it already has a quantization_config: the model is already quantized")
    }
    var text = [UInt8](config)
    guard let close = text.lastIndex(of: UInt8(ascii: "}")) else {
      throw ConfigError(path: path, reason: "not a JSON object")
    }
    var before = close
    while before > 0, [0x20, 0x09, 0x0A, 0x0D].contains(text[before - 1]) { before -= 1 }
    let separator = object.isEmpty ? "\n  " : ",\n  "
    text.replaceSubrange(
      before..<close, with: Array("\(separator)\"quantization_config\": \(quantizationConfig)\n".utf8))
    return Data(text)
  }

  /// Why a `config.json` cannot be extended.
  public struct ConfigError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "Cannot add quantization_config to '\(path)': \(reason)." }
  }

  private static func quoted(_ text: String) -> String { SafetensorsWriter.quoted(text) }
}

import Foundation
import Safetensors

/// The models and GPUs the tool knows by name.
///
/// ``bundled`` is compiled into the binary (`EmbeddedPresets.swift`, generated from the
/// top-level `Presets/` folder by `swift run embed-presets`), so a binary copied anywhere still
/// has its presets. ``init(directory:)`` reads a folder laid out like `Presets/` instead.
public struct PresetCatalog: Sendable {
  /// The raw JSON text of each model preset, by preset name.
  public let modelTexts: [String: String]
  /// The raw JSON text of each GPU preset, by preset name.
  public let gpuTexts: [String: String]

  public init(modelTexts: [String: String], gpuTexts: [String: String]) {
    self.modelTexts = modelTexts
    self.gpuTexts = gpuTexts
  }

  /// The presets compiled into the binary.
  public static let bundled = PresetCatalog(modelTexts: EmbeddedPresets.models, gpuTexts: EmbeddedPresets.gpus)

  /// Reads `models/*.json` and `gpus/*.json` under `directory`.
  public init(directory: URL) throws(PresetError) {
    self.init(
      modelTexts: try Self.readFolder(directory.appendingPathComponent("models")),
      gpuTexts: try Self.readFolder(directory.appendingPathComponent("gpus")))
  }

  public var modelNames: [String] { modelTexts.keys.sorted() }
  public var gpuNames: [String] { gpuTexts.keys.sorted() }

  /// The model preset with this name or alias (case-insensitive).
  public func model(named name: String) throws(PresetError) -> ModelArchitecture {
    guard let key = try resolve(name, in: modelTexts) else {
      throw .unknownModel(name: name, suggestions: Suggestions.closest(to: name, among: modelNames))
    }
    do {
      return try ModelArchitecture(configData: Data(modelTexts[key, default: ""].utf8), name: key)
    } catch {
      throw .malformedPreset(name: key, reason: error.description)
    }
  }

  /// The GPU preset with this name or alias (case-insensitive).
  public func gpu(named name: String) throws(PresetError) -> GPU {
    guard let key = try resolve(name, in: gpuTexts) else {
      throw .unknownGPU(name: name, suggestions: Suggestions.closest(to: name, among: gpuNames))
    }
    return try GPU(presetName: key, text: gpuTexts[key, default: ""])
  }

  /// All GPU presets, smallest capacity first.
  public func allGPUs() throws(PresetError) -> [GPU] {
    var gpus: [GPU] = []
    for name in gpuNames { gpus.append(try gpu(named: name)) }
    return gpus.sorted { ($0.capacity, $0.name) < ($1.capacity, $1.name) }
  }

  /// The largest `config.json` read (real ones are a few KB; multimodal ones under 100 KB).
  public static let maximumConfigBytes: Int64 = 16 << 20

  /// A model from a preset name, a `config.json` path, or a folder holding `config.json`.
  public func model(from argument: String) throws(PresetError) -> ModelArchitecture {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
      return try model(named: argument)
    }
    let url = URL(fileURLWithPath: argument)
    let file = isDirectory.boolValue ? url.appendingPathComponent("config.json") : url
    let name = isDirectory.boolValue ? url.lastPathComponent : url.deletingLastPathComponent().lastPathComponent
    let data: Data
    do {
      data = try ReadableFile.contents(of: file.path, limit: Self.maximumConfigBytes, what: "a config.json")
    } catch {
      throw .unreadableFile(path: file.path, reason: error.reason)
    }
    do {
      return try ModelArchitecture(configData: data, name: name.isEmpty ? "model" : name)
    } catch {
      throw .invalidConfig(error)
    }
  }

  /// The preset key for a name or alias; nil when none matches.
  private func resolve(_ name: String, in texts: [String: String]) throws(PresetError) -> String? {
    let wanted = name.lowercased()
    if texts[wanted] != nil { return wanted }
    for key in texts.keys.sorted() {
      guard case .object(let members)? = try? JSONValue(parsing: Data(texts[key, default: ""].utf8)),
        case .array(let aliases)? = members["aliases"]
      else { continue }
      if aliases.contains(where: { $0 == .string(wanted) || $0 == .string(name) }) { return key }
    }
    return nil
  }

  private static func readFolder(_ folder: URL) throws(PresetError) -> [String: String] {
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
    } catch {
      throw .unreadableFile(path: folder.path, reason: "not a readable folder")
    }
    var texts: [String: String] = [:]
    for file in names where file.hasSuffix(".json") {
      let url = folder.appendingPathComponent(file)
      guard let data = try? Data(contentsOf: url), let text = String(data: data, encoding: .utf8) else {
        throw .unreadableFile(path: url.path, reason: "not readable as UTF-8 text")
      }
      texts[String(file.dropLast(5))] = text
    }
    return texts
  }
}

extension GPU {
  /// Reads a GPU preset: `name`, `display_name`, `vendor`, `memory_mib` (required), ...
  init(presetName: String, text json: String) throws(PresetError) {
    let members: [String: JSONValue]
    do {
      guard let object = try JSONValue(parsing: Data(json.utf8)).objectValue else {
        throw PresetError.malformedPreset(name: presetName, reason: "the top level is not a JSON object")
      }
      members = object
    } catch let error as PresetError {
      throw error
    } catch {
      throw .malformedPreset(name: presetName, reason: "\(error)")
    }
    guard case .number(let mib)? = members["memory_mib"], let whole = Int64(exactly: mib), whole > 0, whole < 1 << 40 else {
      throw .malformedPreset(name: presetName, reason: "'memory_mib' must be a positive whole number of MiB")
    }
    func text(_ key: String) -> String? {
      if case .string(let value)? = members[key] { return value }
      return nil
    }
    func flag(_ key: String, _ fallback: Bool) -> Bool {
      if case .bool(let value)? = members[key] { return value }
      return fallback
    }
    var aliases: [String] = []
    if case .array(let values)? = members["aliases"] {
      aliases = values.compactMap { if case .string(let alias) = $0 { return alias } else { return nil } }
    }
    self.init(
      name: presetName, displayName: text("display_name") ?? presetName, vendor: text("vendor") ?? "unknown",
      architecture: text("architecture"), capacity: .mebibytes(whole),
      supportsBFloat16: flag("supports_bf16", true), hasUnifiedMemory: flag("unified_memory", false),
      aliases: aliases, source: text("source") ?? "")
  }
}

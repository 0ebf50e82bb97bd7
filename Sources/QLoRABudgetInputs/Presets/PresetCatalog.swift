import FileSafety
import Foundation
import QLoRABudget
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

  /// The alias and Hub id lookups, built on first use: a lookup by exact preset name (what most
  /// runs make) never parses the other presets.
  let presetIndex: PresetIndex

  public init(modelTexts: [String: String], gpuTexts: [String: String]) {
    self.modelTexts = modelTexts
    self.gpuTexts = gpuTexts
    presetIndex = PresetIndex(modelTexts: modelTexts, gpuTexts: gpuTexts)
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

  /// The model preset with this name or alias (case-insensitive); `readAs` as in
  /// ``ModelArchitecture/init(configData:name:readAs:)``.
  public func model(named name: String, readAs: String? = nil) throws(PresetError) -> ModelArchitecture {
    guard let key = resolve(name, in: modelTexts, aliases: { presetIndex.lookups.modelAliases }) else {
      throw .unknownModel(name: name, suggestions: Suggestions.closest(to: name, among: modelNames))
    }
    do {
      return try ModelArchitecture(configData: Data(modelTexts[key, default: ""].utf8), name: key, readAs: readAs)
    } catch .unknownFamily(let family) {
      throw .invalidConfig(.unknownFamily(family))
    } catch {
      throw .malformedPreset(name: key, reason: error.description)
    }
  }

  /// The GPU preset with this name or alias (case-insensitive).
  public func gpu(named name: String) throws(PresetError) -> GPU {
    guard let key = resolve(name, in: gpuTexts, aliases: { presetIndex.lookups.gpuAliases }) else {
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

  /// A model from a preset name, a `config.json` path, or a folder holding `config.json`;
  /// `readAs` as in ``ModelArchitecture/init(configData:name:readAs:)``.
  public func model(from argument: String, readAs: String? = nil) throws(PresetError) -> ModelArchitecture {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
      return try model(named: argument, readAs: readAs)
    }
    let url = URL(fileURLWithPath: argument)
    let file = isDirectory.boolValue ? url.appendingPathComponent("config.json") : url
    let name = isDirectory.boolValue ? url.lastPathComponent : url.deletingLastPathComponent().lastPathComponent
    let data: Data
    do {
      data = try InputFile.modelConfig.contents(of: file.path)
    } catch {
      throw .unreadableFile(path: file.path, reason: error.reason)
    }
    do {
      return try ModelArchitecture(configData: data, name: name.isEmpty ? "model" : name, readAs: readAs)
    } catch {
      throw .invalidConfig(error)
    }
  }

  /// The preset key for a name or alias; nil when none matches. The aliases are read only when
  /// no preset has the name.
  private func resolve(_ name: String, in texts: [String: String], aliases: () -> [String: String]) -> String? {
    let wanted = name.lowercased()
    return texts[wanted] != nil ? wanted : aliases()[wanted]
  }

  /// Preset files in one folder at most (each read as ``InputFile/preset``).
  public static let maximumPresetFiles = 10_000

  /// The `*.json` files of `folder`, each a regular file read with the bounded reader.
  private static func readFolder(_ folder: URL) throws(PresetError) -> [String: String] {
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }
    } catch {
      throw .unreadableFile(path: folder.path, reason: "not a readable folder")
    }
    guard names.count <= maximumPresetFiles else {
      throw .unreadableFile(
        path: folder.path, reason: "\(names.count) preset files, over the limit of \(maximumPresetFiles)")
    }
    var texts: [String: String] = [:]
    for file in names {
      let url = folder.appendingPathComponent(file)
      let data: Data
      do {
        data = try InputFile.preset.contents(of: url.path)
      } catch {
        throw .unreadableFile(path: url.path, reason: error.reason)
      }
      guard let text = String(data: data, encoding: .utf8) else {
        throw .unreadableFile(path: url.path, reason: "not readable as UTF-8 text")
      }
      texts[String(file.dropLast(5))] = text
    }
    return texts
  }
}

extension GPU {
  /// Reads a GPU preset: `name`, `display_name`, `vendor`, `architecture`, `compute_capability`
  /// (NVIDIA), `memory_mib` (required), `supports_bf16`, `unified_memory`, `aliases`, `source`
  /// (docs/presets.md). The vendor and architecture must be known values and agree, and an
  /// NVIDIA preset's bf16 flag must agree with its compute capability.
  init(presetName: String, text json: String) throws(PresetError) {
    let members: [String: JSONValue]
    do {
      guard let object = try JSONValue(parsing: json).objectValue else {
        throw PresetError.malformedPreset(name: presetName, reason: "the top level is not a JSON object")
      }
      members = object
    } catch let error as PresetError {
      throw error
    } catch {
      throw .malformedPreset(name: presetName, reason: "\(error)")
    }
    func malformed(_ reason: String) -> PresetError { .malformedPreset(name: presetName, reason: reason) }
    guard case .number(let mib)? = members["memory_mib"], let whole = Int64(exactly: mib), whole > 0, whole < 1 << 40
    else {
      throw malformed("'memory_mib' must be a positive whole number of MiB")
    }
    func text(_ key: String) -> String? {
      if case .string(let value)? = members[key] { return value }
      return nil
    }
    func flag(_ key: String) throws(PresetError) -> Bool {
      guard case .bool(let value)? = members[key] else { throw malformed("'\(key)' must be true or false") }
      return value
    }
    guard let vendor = text("vendor").flatMap(GPUVendor.init(rawValue:)), vendor != .unknown else {
      throw malformed("'vendor' must be one of nvidia, amd, apple")
    }
    let architectures = GPUArchitecture.allCases.map(\.rawValue).joined(separator: ", ")
    guard let architecture = text("architecture").flatMap(GPUArchitecture.init(rawValue:)) else {
      throw malformed("'architecture' must be one of \(architectures)")
    }
    guard architecture.vendor == vendor else {
      throw malformed("architecture '\(architecture.rawValue)' is not made by '\(vendor.rawValue)'")
    }
    let supportsBFloat16 = try flag("supports_bf16")
    var capability: ComputeCapability? = nil
    if vendor == .nvidia {
      guard let parsed = text("compute_capability").flatMap(ComputeCapability.init) else {
        throw malformed("'compute_capability' must be 'major.minor' (e.g. '8.9') for an NVIDIA GPU")
      }
      guard supportsBFloat16 == (parsed >= .firstWithBFloat16) else {
        throw malformed("'supports_bf16' is \(supportsBFloat16) but compute capability \(parsed) says otherwise")
      }
      capability = parsed
    }
    var aliases: [String] = []
    if case .array(let values)? = members["aliases"] {
      aliases = values.compactMap { if case .string(let alias) = $0 { return alias } else { return nil } }
    }
    self.init(
      name: presetName, displayName: text("display_name") ?? presetName, vendor: vendor, architecture: architecture,
      computeCapability: capability, capacity: .mebibytes(whole), supportsBFloat16: supportsBFloat16,
      hasUnifiedMemory: try flag("unified_memory"), aliases: aliases, source: text("source") ?? "")
  }
}

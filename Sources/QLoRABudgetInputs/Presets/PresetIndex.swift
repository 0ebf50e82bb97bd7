import Foundation
import QLoRABudget

/// Each alias (lower case) and, for models, each Hub id (lower case), to its preset's name.
///
/// Building these parses every preset (86% of the instructions of a cold `fit` when it was done
/// at start-up), so they are built once, on the first lookup that needs them, and shared by the
/// copies of a catalog (`lock` guards `built`, hence the unchecked `Sendable`).
final class PresetIndex: @unchecked Sendable {
  struct Lookups {
    let modelAliases: [String: String]
    let gpuAliases: [String: String]
    let hubIDs: [String: String]
  }

  private let modelTexts: [String: String]
  private let gpuTexts: [String: String]
  private let lock = NSLock()
  private var built: Lookups?

  init(modelTexts: [String: String], gpuTexts: [String: String]) {
    self.modelTexts = modelTexts
    self.gpuTexts = gpuTexts
  }

  /// The lookups, built on the first call.
  var lookups: Lookups {
    lock.lock()
    defer { lock.unlock() }
    if let built { return built }
    let lookups = Lookups(
      modelAliases: Self.index(modelTexts, keys: ["aliases"]),
      gpuAliases: Self.index(gpuTexts, keys: ["aliases"]),
      hubIDs: Self.index(modelTexts, keys: ["hub_ids", "hf_repo"]))
    built = lookups
    return lookups
  }

  /// The lower-cased strings under `keys` (a string or an array of strings) of each preset, to
  /// the preset's name; where two presets list the same string, the first name in order wins.
  private static func index(_ texts: [String: String], keys: [String]) -> [String: String] {
    var index: [String: String] = [:]
    for name in texts.keys.sorted() {
      guard case .object(let members)? = try? JSONValue(parsing: texts[name, default: ""]) else { continue }
      for key in keys {
        let values: [JSONValue] =
          if case .array(let listed)? = members[key] { listed } else { members[key].map { [$0] } ?? [] }
        for case .string(let text) in values where index[text.lowercased()] == nil { index[text.lowercased()] = name }
      }
    }
    return index
  }
}

import Foundation

extension PresetCatalog {
  /// The preset whose `hub_ids` (or `hf_repo`) list this Hub id, compared without regard to
  /// case as the Hub does; nil when none does. A preset lists the repos with its exact shapes
  /// (base and instruct variants, mirrors).
  public func modelName(forHubID id: String) -> String? {
    let wanted = id.lowercased()
    for key in modelTexts.keys.sorted() {
      guard case .object(let members)? = try? JSONValue(parsing: Data(modelTexts[key, default: ""].utf8)) else { continue }
      var ids: [JSONValue] = []
      if case .array(let listed)? = members["hub_ids"] { ids = listed }
      if let repo = members["hf_repo"] { ids.append(repo) }
      if ids.contains(.string(id)) || ids.contains(where: { if case .string(let text) = $0 { text.lowercased() == wanted } else { false } }) {
        return key
      }
    }
    return nil
  }
}

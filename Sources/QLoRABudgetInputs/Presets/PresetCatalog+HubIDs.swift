import Foundation
import QLoRABudget

extension PresetCatalog {
  /// The preset whose `hub_ids` (or `hf_repo`) list this Hub id, compared without regard to
  /// case as the Hub does; nil when none does. A preset lists the repos with its exact shapes
  /// (base and instruct variants, mirrors).
  public func modelName(forHubID id: String) -> String? { presetIndex.lookups.hubIDs[id.lowercased()] }
}

import Foundation
import QLoRABudget
import QLoRABudgetInputs

/// The short text an MCP tool result carries beside its JSON: the answer in one or two
/// sentences, read from the JSON the command printed.
enum MCPSummary {
  static func text(tool: String, _ json: Any) -> String {
    let object = json as? [String: Any] ?? [:]
    func bytes(_ value: Any?) -> String {
      (value as? NSNumber).map { ByteCount($0.int64Value).formatted(.binary) } ?? "?"
    }
    let model = (object["model"] as? [String: Any])?["name"] as? String ?? object["model"] as? String ?? "the model"
    let gpu = object["gpu"] as? [String: Any]
    /// The planner's single changes the command listed, up to five.
    func changes() -> String {
      guard let changes = object["changes"] as? [[String: Any]], !changes.isEmpty else { return "" }
      return "; single changes that fit: "
        + changes.prefix(5).compactMap { $0["option"] as? String }.joined(separator: "; ")
    }
    /// A peak over the capacity accepted as tight: the process peak the run completes at.
    func completion(_ value: Any?) -> String {
      guard let completing = value as? NSNumber else { return "" }
      return " (over as simulated; completes at about \(bytes(completing)) with the cache released)"
    }
    switch tool {
    case "fit", "estimate":
      var text =
        "\(model): peak process memory \(bytes(object["peak_process_bytes"])) (\(object["peak_phase"] as? String ?? "?"))"
      if let gpu, let verdict = object["verdict"] as? String {
        text +=
          " on \(gpu["name"] as? String ?? "the GPU") with \(bytes(gpu["capacity_bytes"])) usable: \(verdict.replacingOccurrences(of: "_", with: " "))"
          + completion(object["completing_process_bytes"])
      }
      return text + changes() + "."
    case "solve":
      var text = "\(model)"
      if let asGiven = object["as_given"] as? [String: Any] {
        text +=
          " as given: \(bytes(asGiven["bytes"])), \((asGiven["verdict"] as? String ?? "?").replacingOccurrences(of: "_", with: " "))"
          + completion(asGiven["completing_process_peak_bytes"])
      }
      return text + changes() + "."
    case "diagnose":
      let messages = object["messages"] as? [[String: Any]] ?? []
      var text = "\(messages.count) out-of-memory message\(messages.count == 1 ? "" : "s")"
      if let first = messages.first {
        text +=
          "; the first tried to allocate \(bytes(first["tried_to_allocate_bytes"])) with \(bytes(first["free_bytes"])) free"
          + " of \(bytes(first["total_capacity_bytes"]))"
      }
      if let diagnosis = object["diagnosis"] as? [String: Any] {
        text +=
          ". Estimated peak \(bytes(diagnosis["peak_process_bytes"])) of \(bytes(diagnosis["available_bytes"])) available: "
          + (diagnosis["verdict"] as? String ?? "?").replacingOccurrences(of: "_", with: " ")
        if let setting = diagnosis["allocator_setting"] as? String {
          text += "; fragmentation is the difference: set \(setting)"
        }
      }
      return text + "."
    default:
      let count = (json as? [Any])?.count ?? 0
      return "\(count) presets."
    }
  }
}

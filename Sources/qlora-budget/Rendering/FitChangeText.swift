import QLoRABudget

/// How every command shows the planner's single changes (``Planner/changes()``): `fit`,
/// `estimate --gpu`, `solve` and `diagnose` print the same lines and the same JSON.
enum FitChangeText {
  /// The changes under `verdict`, least given up first, each with the process peak and the
  /// headroom it leaves; `notes` adds what each one gives up.
  static func lines(_ changes: [FitChange], verdict: Verdict, notes: Bool) -> [String] {
    if verdict == .fits { return ["Changes: none needed, the run fits as given."] }
    if changes.isEmpty { return ["Changes: no single change makes it fit."] }
    var lines = [
      "Single changes that make it fit, least given up first:",
      "     " + HelpText.pad("change", 39) + EstimateText.leftPad("peak", 12) + EstimateText.leftPad("headroom", 14),
    ]
    for (index, change) in changes.enumerated() {
      let evaluation = change.evaluation
      lines.append(
        EstimateText.leftPad("\(index + 1).", 4) + " " + HelpText.pad(typed(change), 39)
          + EstimateText.leftPad(evaluation.bytes.formatted(.binary), 12)
          + EstimateText.leftPad(ByteCount(max(0, evaluation.headroom)).formatted(.binary), 14))
      let words = change.cost.label + (notes ? ": " + change.note : "")
      lines += HelpText.wrap(words, width: 75).map { "     " + $0 }
    }
    return lines
  }

  /// A change as typed on the command line.
  static func typed(_ change: FitChange) -> String {
    change.changes.map(SetupOptions.typed).filter { !$0.isEmpty }.joined(separator: " ")
  }

  static func json(_ change: FitChange) -> JSONOutput {
    .object([
      ("kind", .string(change.kind.rawValue)), ("option", .string(typed(change))),
      ("changes", .object(change.changes.map { ($0.setting.rawValue, EstimateJSON.value($0)) })),
      ("note", .string(change.note)), ("cost", .string(String(describing: change.cost))),
      ("fraction", .number(change.fraction)),
      ("evaluation", EstimateJSON.evaluation(change.evaluation)),
      ("setup", EstimateJSON.setup(change.evaluation.setup)),
    ])
  }
}

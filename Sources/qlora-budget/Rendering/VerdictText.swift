import QLoRABudget
import QLoRABudgetInputs

/// How every command shows a ``Verdict``: the library's word, coloured on a terminal.
enum VerdictText {
  /// `text` in the verdict's colour (green, yellow, red) when `enabled`.
  static func colored(_ text: String, _ verdict: Verdict, _ enabled: Bool) -> String {
    guard enabled else { return text }
    let code: String
    switch verdict {
    case .fits: code = "32"
    case .tight: code = "33"
    case .doesNotFit: code = "31"
    }
    return "\u{1B}[1;\(code)m\(text)\u{1B}[0m"
  }

  /// The verdict's word, coloured.
  static func word(_ verdict: Verdict, _ enabled: Bool) -> String { colored(verdict.label, verdict, enabled) }

  /// What a chart or table note says the verdict means.
  static var definition: String {
    "\"does not fit\": the estimated peak exceeds the usable capacity, even with the allocator's cache "
      + "released; \"tight\": it is below the capacity by "
      + "less than the \(EstimateText.percent(VerdictMargin.measured.relative)) margin "
      + "(\(EstimateText.percent(VerdictMargin.measuredUnderEngine.relative)) under FSDP or DeepSpeed; the largest "
      + "underestimate measured on real runs, docs/validation.md) plus, on a GPU the CUDA context was not measured on, its "
      + "uncertainty, or above it only until the allocator releases its cache; \"fits\": otherwise"
  }
}

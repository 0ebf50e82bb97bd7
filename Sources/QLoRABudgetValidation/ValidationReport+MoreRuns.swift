import Foundation
import QLoRABudget

/// docs/validation.md's parts for Tests/Calibration/published/more-runs.json (IBM's fms-acceleration
/// benchmark) and oom-reports.json: every figure read from the rows, so none can go stale.
extension ValidationReport {
  /// The out-of-memory reports that `fits` would contradict: mapped, and judged `fits`.
  public var wrongFitsOnOutOfMemoryReports: [PublishedComparison] { outOfMemory.filter(\.isWrongFit) }

  /// The analysis bullet of the fms-acceleration rows: the mapped transformers 4.45 rows, the
  /// transformers 4.48 rows shown beside the expressed ones, and the out-of-memory reports.
  func fmsAccelerationAnalysis() -> String {
    let all = published + expressed.map(\.comparison)
    func ids(_ range: ClosedRange<Int>) -> [String] { range.map { String(format: "p2-%03d", $0) } }
    func errors(_ ids: [String]) -> String {
      ids.compactMap { id in
        all.first { $0.id == id }.flatMap { row in row.errors.first.map { "\(id) \(Self.signedPercent($0.percent))" } }
      }.joined(separator: ", ")
    }
    let mapped = published.filter { ids(39...44).contains($0.id) }
    guard !mapped.isEmpty else { return "" }
    let underestimates = mapped.filter { $0.figure == .process }.map { ($0.id, Self.underestimate($0)) }
    let worst = underestimates.max { $0.1 < $1.1 }
    let newer = all.filter { ids(1...6).contains($0.id) && $0.figure == .process }
    let fitcheck = rows.filter { $0.dataSet == Self.marginFigure.dataSet && $0.figure == Self.marginFigure.figure }
    let fitcheckWorst = Self.roundedUp(fitcheck.map { Double($0.measured) / Double($0.estimated) - 1 }.max() ?? 0)
    let newerMargin = Self.roundedUp(newer.map(Self.underestimate).max() ?? 0)
    let wrong = wrongFitsOnOutOfMemoryReports.map(\.id)
    return """
      - **fms-acceleration (high, A100-80GB; IBM's reference benchmark, fixed 4,096-token packed rows at batch 4
        and 8).** The accelerated-peft-bnb config has the llama-factory recipe's dtypes (base bf16, adapters fp32).
        On transformers 4.45.2 (mapped, `fp32-logits` loss): \(errors(ids(39...44))) (process from nvidia-smi,
        odd ids; peak allocated, even ids). The peak allocated is reproduced, and the process since the schedule
        has the loss's transients (issue 17): the 16-bit lm_head output that `.float()` replaces is freed beside
        fp32 logits of 2.10 or 4.19 GB, each fp32 tensor after it is twice its size, so its block stays cached
        and free at the loss's peak, as the run's own code recorded on the meta device shows (docs/estimation.md,
        "The schedule"); \(worst.map { worst in
          worst.1 > fitcheckWorst
          ? "\(worst.0) sets the one-GPU margin (\(Self.percent(Self.roundedUp(worst.1) * 100))), where the fitcheck runs alone give \(Self.percent(fitcheckWorst * 100))"
          : "their largest underestimate (\(worst.0), \(Self.percent(Self.roundedUp(worst.1) * 100))) is within the fitcheck runs' \(Self.percent(fitcheckWorst * 100))" } ?? "").
        On transformers 4.48.1 (shown under "Expressed by a
        recipe"): \(errors(ids(1...6))): 4.46-4.49's ForCausalLMLoss shifts fp32 logits with a copy beside the
        bf16 logits the output keeps, a loss neither `standard` nor `fp32-logits` models (counted, these process
        rows would need \(Self.percent(newerMargin * 100))). The baseline-peft-bnb config (TRL's preparation: the
        qlora-paper recipe's dtypes, with fp32 adapters) is \(errors(ids(7...10) + ids(45...48))): with fp32 norms
        the residual stream turns fp32 after the first layer (an RMSNorm with an fp32 weight returns fp32, a 4-bit
        projection returns its input's dtype), so every checkpointed layer input but the first holds 4 B per
        element; the estimate models it, and its peak allocated meets the measured one. Its recorded sequence
        (transformers 4.45.2, docs/estimation.md, "The schedule") puts each recomputed MLP tensor of backward in
        the blocks the loss freed, as the schedule does; what keeps p2-045 and p2-047 over is the forward's
        reserve (the 4.48.1 rows also miss the loss's copy).
        Out-of-memory reports judged `fits`: \(wrong.isEmpty ? "none" : wrong.joined(separator: ", "))\(wrong.isEmpty ? "." : " (WRONG: see the reports below).")

      """
  }

  /// The "Out-of-memory reports" section: mapped reports with our verdict, then the rest.
  func outOfMemoryMarkdown() -> String {
    guard !outOfMemory.isEmpty || !outOfMemoryContext.isEmpty else { return "" }
    var out = """

      ### Out-of-memory reports

      Tests/Calibration/published/oom-reports.json: runs that ran out of memory, with their setups, mapped as the
      rows above (Sources/QLoRABudgetValidation/PublishedMapping+MoreRuns.swift). Our verdict on each must never
      be `fits`. "In use" is the memory the report gives for the run before it stopped (here nvidia-smi's peak), not
      what the run needed.

      | id | model | trust | setup as mapped | in use | ours (process) | verdict |
      | --- | --- | --- | --- | ---: | ---: | --- |

      """
    for row in outOfMemory {
      let inUse = "\(row.value) \(row.unit == .unstated ? "GB/GiB?" : row.unit.rawValue)"
      let ours = String(
        format: "%.2f GB = %.2f GiB", Double(row.estimated) / 1e9, Double(row.estimated) / 1_073_741_824)
      let verdict =
        row.verdict.map { "\($0.rawValue)" + (row.capacity.map { " on \(Self.gib($0.bytes)) GiB" } ?? "") } ?? "no GPU"
      out +=
        "| \(row.id) | \(Self.cell(row.model)) | \(Self.cell(row.trust)) | \(Self.cell(row.setup)) | \(inUse) | "
        + "\(ours) | \(verdict)\(row.isWrongFit ? " (WRONG)" : "") |\n"
    }
    let wrong = wrongFitsOnOutOfMemoryReports.map(\.id)
    out +=
      "\n\(outOfMemory.count) mapped; judged `fits` (WRONG): \(wrong.isEmpty ? "none" : wrong.joined(separator: ", "))."
      + (wrong.isEmpty ? "" : " The analysis above (fms-acceleration) names what the estimate misses.") + "\n\n"
    for row in outOfMemory {
      out += "- **\(row.id)**: " + row.assumptions.map(Self.cell).joined(separator: "; ") + "\n"
    }
    if !outOfMemoryContext.isEmpty {
      out += "\n| id | model | GPU | seq | batch | in use | unit | why not mapped |\n"
      out += "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
      for row in outOfMemoryContext {
        let cells = ["id", "model", "gpu", "seq_len", "batch_size", "value", "unit", "reason"].map {
          Self.cell(row[$0] ?? "")
        }
        out += "| " + cells.joined(separator: " | ") + " |\n"
      }
    }
    return out
  }
}

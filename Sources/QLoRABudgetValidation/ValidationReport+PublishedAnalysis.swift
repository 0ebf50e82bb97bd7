import Foundation
import QLoRABudget

extension ValidationReport {
  /// The analysis of the fsdp_qlora rows, written from their rows of the table: every figure it
  /// quotes is a row's error as the table prints it (or the median or largest of their sizes), so
  /// a change to the estimator or the mapping cannot leave it quoting stale numbers.
  func fsdpQLoRAAnalysis() -> String {
    let ids = PublishedMapping.fsdpQLoRAIDs
    let rows = published.filter { ids.contains($0.id) }.sorted { $0.id < $1.id }
    let errors = rows.compactMap { row in row.errorPercent(reading: "GiB").map { (id: row.id, percent: $0) } }
    guard !errors.isEmpty else { return "" }
    let offloaded = rows.filter { row in
      PublishedMapping.all.first { $0.id == row.id }.map { !$0.setup.offload.isEmpty } ?? false
    }
    let sizes = errors.map { abs($0.percent) }
    func list(_ ids: [String]) -> String {
      ids.count < 2 ? ids.joined() : ids.dropLast().joined(separator: ", ") + " and " + ids[ids.count - 1]
    }
    var text =
      "- **fsdp_qlora (high trust, peak reserved per GPU): \(rows.count) rows, \(rows.count - offloaded.count) "
      + "without and \(offloaded.count) with CPU offload (\(list(offloaded.map(\.id)))).** "
      + Self.fsdpQLoRAMechanisms
      + " Errors against the published peak reserved (GiB): "
      + errors.map { "\($0.id) \(Self.signedPercent($0.percent))" }.joined(separator: ", ")
      + "; median size \(Self.percent(Self.median(sizes))), largest \(Self.percent(sizes.max() ?? 0))."
    let under = errors.filter { $0.percent < 0 }
    let over = errors.filter { $0.percent >= 0 }
    text +=
      " \(under.count) of \(errors.count) rows are under the published figure"
      + (over.isEmpty ? "." : ", \(list(over.map(\.id))) above it.")
    let released = rows.filter(\.completesByReleasingCache)
    if !released.isEmpty {
      let verdicts = Set(released.compactMap { $0.verdict?.rawValue }).sorted().map { "`\($0)`" }
      text +=
        " \(list(released.map(\.id))) complete in the simulation only with the allocator releasing its cache on "
        + "the card (the figure shown is that run's peak reserved); their verdict: \(list(verdicts)), and the runs "
        + "completed."
    }
    let farUnder = under.filter { $0.percent < -10 }.map(\.id)
    if !farUnder.isEmpty {
      text += " More than a tenth under: " + list(farUnder) + ". "
      text += farUnder.map { Self.fsdpQLoRAUnderestimates[$0] ?? "\($0): not identified here." }.joined(separator: " ")
    }
    return text + " No constant was fitted to these rows.\n"
  }

  /// How the rows are mapped and what the estimator models of FSDP (no figures).
  static let fsdpQLoRAMechanisms =
    "Mapped as train.py runs them (assumptions below): every tensor bf16 without autocast (the trl recipe's "
    + "dtypes), the fp32-logits loss of the transformers the runs used (2024, before 4.46), reentrant checkpointing, a plain loop "
    + "that holds the model output through the optimizer step, the quantizing thread pool as the threaded "
    + "loader, and the GPU each row names. FSDP keeps its root unit (embeddings and lm_head) whole on every GPU "
    + "from the first forward to the end of backward (PyTorch `_post_forward_reshard`), which the gather row "
    + "counts; with use_cpu_offload true the parameter, gradient and optimizer shards are in host memory. "
    + "bitsandbytes' 4-bit statistics are no parameter, so every GPU keeps all of them (on the GPU under offload "
    + "too), and loading is simulated as rank 0 runs it: each weight quantized on the GPU and moved off it, then "
    + "FSDP's wrap moving, broadcasting, flattening and sharding unit by unit, whose freed blocks the step then "
    + "carves (docs/estimation.md, \"Several GPUs\")."

  /// What is known of a row's underestimate, from the sources (no figures: those are the table's).
  static let fsdpQLoRAUnderestimates: [String: String] = [
    "088":
      "088 (512 tokens) measured nearly what 089 (2,048 tokens) did, though its step is a quarter as long, which "
      + "points to a peak set before the step, by loading and the wrap. train.py sizes its quantizing thread pool as "
      + "min(cpu_count / GPUs, 8 x card GB / 40 x 70 / params in billions), for a 7B model on a 24 GB card "
      + "bounded by the host's CPUs alone, so more bf16 staging copies are in flight than the loader model's 4 "
      + "unless the host has fewer than 10 logical CPUs; the row does not give the host, so this is not modelled.",
    "094": "094 (Yi-34B, no offload): the estimate's peak is the step's; what the run held beyond it is not "
      + "identified here.",
    "096": "096 (Llama-2-70B, parameter offload): the estimate's peak is the step's; what the run held beyond "
      + "it is not identified here.",
  ]
}

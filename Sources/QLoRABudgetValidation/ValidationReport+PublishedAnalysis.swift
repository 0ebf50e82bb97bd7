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

  /// Where the estimator is off on the other mapped rows (and the expressed ones) and why: the
  /// mechanisms in words, every figure read from the rows of the tables above, so none can go stale.
  func otherRowsAnalysis() -> String {
    let rows = published + expressed.map(\.comparison)
    func error(_ id: String, _ unit: String, in compared: [PublishedComparison]? = nil) -> Double? {
      (compared ?? rows).first { $0.id == id }?.errorPercent(reading: unit)
    }
    /// One row's error, "-10.19%"; "n/a" when the row is missing.
    func one(_ id: String, _ unit: String = "GB", in compared: [PublishedComparison]? = nil) -> String {
      error(id, unit, in: compared).map(Self.signedPercent) ?? "n/a"
    }
    /// The smallest to the largest error of `ids` over `units`, "+9.09% to +16.88%".
    func span(_ ids: [String], _ units: [String] = ["GB"]) -> String {
      let errors = ids.flatMap { id in units.compactMap { error(id, $0) } }
      guard let low = errors.min(), let high = errors.max() else { return "n/a" }
      return Self.signedPercent(low) + " to " + Self.signedPercent(high)
    }
    /// Each Unsloth row's errors (GB / GiB reading) as mapped and under the recipe's default
    /// attention: "123 +5.85/-1.42% -> +6.93/-0.42%".
    let ownAttention = recipesOwnAttention.filter { (123...132).contains(Int($0.id) ?? 0) }.map { row in
      let pair = { (compared: [PublishedComparison]?) in
        one(row.id, in: compared).dropLast() + "/" + one(row.id, "GiB", in: compared)
      }
      return "\(row.id) \(pair(nil)) -> \(pair(recipesOwnAttention))"
    }.joined(separator: ", ")
    let ids = { (range: ClosedRange<Int>) in range.map { String(format: "%03d", $0) } }
    let wrongDoesNotFit = published.filter(\.isWrongDoesNotFit).map(\.id)
    return """
      - **PEFT FSDP / ZeRO-3 70B (medium, nvidia-smi per GPU, unit unstated).** FSDP (100) \(one("100")) read as
        GB; ZeRO-3 (101) \(one("101")) (the ZeRO-3 engine: DeepSpeed casts the module to bf16 and keeps an fp32
        master partition; DeepSpeed's default buckets); FSDP with CPU offload (099) \(one("099")): the published
        19.6 GB is a screenshot of GPU monitoring, and what a process holds beyond the caching allocator under
        NCCL (communicator buffers, cudaMalloc'd outside torch's pool) and accelerate's loading of the offloaded
        model are not modelled; neither is measured in Tests/Calibration/, so no constant was added.
      - **torchtune (row 059, medium, peak allocated "~9GB").** \(one("059")) with the torchtune recipe (torchao
        NF4, bf16 model, full-logits loss of its time).
      - **torchtune 0.1 (row 056, high, peak reserved).** \(one("056")) with the torchtune-0.1 recipe: the peak
        reserved is set at model init (the source gives 9.13 GB reserved before training, 9.29 GB after), by
        torchao 0.1 quantizing each weight whole (two bf16 differences of 16 x the weight's elements) while
        torchtune 0.1 builds the model on the GPU, deep-copies its layers (each copy dequantized and quantized
        again) and loads the checkpoint; the replayed model init reaches 9.13 GB within 0.1%. Row 057 (8.57 GB,
        same code two days later) and the torch.compile rows (058, 060, 061) are shown under "Expressed by a
        recipe".
      - **LitGPT config hub (high, peak allocated, 2024 code).** \(span(ids(34...40))) with the litgpt recipe,
        which models LitGPT's own model code and the bitsandbytes it pinned (docs/recipes.md, LitGPT): the
        4-bit matmuls of bitsandbytes 0.41-0.42 keep their inputs in their nodes (`ctx.tensors = (A, B)`),
        which the loop's `logits` still holds through the next forward; the fused qkv with one LoRA module
        (one dropout, `zero_pad`'s saved `index_copy` source, with multi-head attention v's view keeping the
        whole fused output), the attention output's reshape copy, no key/value cache, an own 4-bit lm_head
        dequantized to fp16 and cast to bf16 beside every logit. The tensor list was measured on CPU with
        LitGPT 00af8b0d's own code at Llama-3.2-1B's dimensions (16 layers, 512 tokens x 2, a stand-in
        4-bit matmul that keeps its input as bitsandbytes 0.41 does): its steady step's peak within 0.1% of
        the bytes the list adds up to (docs/recipes.md). No constant was fitted to these rows.
      - **lit-gpt resource tables (expressed, not validated, Oct 2023 code).** \(span(ids(49...52))): lit-gpt
        8641822 runs the longest sample first (no previous step's graph beside the peak step) and its
        RMSNorm keeps a bf16, not fp32, input; counted so, the estimates would be 6-9% under, as far under
        as the same table's bf16 LoRA rows: what the 2023 code keeps beyond that is not found. Shown, kept
        out of the bar.
      - **Unsloth blog budgets (low, derived).** The HF + FA2 column under the hf-peft recipe (fp32 embeddings
        and norms after prepare_model_for_kbit_training, the documented default) is \(span(ids(117...122)))
        (GB reading) from 932 to 28,454 tokens: the slope per token follows the budgets. The Unsloth column is
        modelled with Unsloth's chunked loss (the full logits never materialised), its offload of the
        checkpointed layer inputs to host memory and its own decoder kernels (RMSNorm, and with dropout 0 the
        fused LoRA QKV / O / MLP autograd functions, which save the norms' bf16 outputs and the MLP's gate and up
        outputs only; docs/recipes.md section 3, docs/estimation.md): rows 123-129 are
        \(span(ids(123...129), ["GB", "GiB"])) (both readings), the 70B rows 131/132 \(span(["131", "132"], ["GB", "GiB"])).
        The 8 GB row (123, \(one("123"))) is also hit by the loss's chunk bound (4 GiB; Unsloth targets
        half the free memory, which is smaller on an 8 GB card).
        These rows run flash-attn, which the blog does not state: Unsloth's Dec 2024 README installs the
        '-ampere' extras (flash-attn>=2.6.3) on sm 8.0+ GPUs such as the blog's A100, and Unsloth's layers take
        flash-attn before xformers. Under the recipe's default, xformers (what a plain pip install brings: k
        and v copied to every query head and saved so, `2*T*(q - kv)*2` B more in the recomputed layer: 12,288
        B per token for Llama 3.1 8B, 28,672 for Llama 3.3 70B), row by row (GB/GiB reading, as mapped -> xformers): \(ownAttention).
        The allocated peak grows by that much; the simulated reserve, with tensors of gigabytes each, moves either way.
      - **axolotl, LLaMA-Factory, ms-swift 1.x (low).** Informal or rounded figures with unstated metric, GPU or
        real sequence lengths; rows 105/107/115 use the axolotl recipe. Row 116 (\(one("116")) GB,
        \(one("116", "GiB")) GiB) is dominated by eager attention at 4,096 tokens x 2 (our setup from the config,
        which enables no flash attention). Row 084 (\(one("084")) GB, \(one("084", "GiB")) GiB) takes max_length
        2,048 as every sample's length, an upper bound the row itself says the data rarely reaches. Rows
        133/134 (LLaMA-Factory) are \(span(["133", "134"])) (GB reading).
      - **Verdicts.** \(published.filter(\.isWrongFit).count) wrong `fits` on the mapped rows; `does_not_fit` on a
        run that ran within its GPU: \(wrongDoesNotFit.isEmpty ? "none" : wrongDoesNotFit.joined(separator: ", "))
        (the over-estimates above); where we err on a budget row it is towards `does_not_fit`.

      """
  }
}

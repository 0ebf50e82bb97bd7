import QLoRABudget
import QLoRABudgetInputs

/// The human-readable breakdown of `fit` and `estimate`, within 80 columns.
enum EstimateText {
  /// `changes`: the planner's single changes that make the run fit, shown under the verdict
  /// (nil: not asked, as without a GPU).
  static func render(_ estimate: MemoryEstimate, explain: Bool, color: Bool, changes: [FitChange]? = nil) -> String {
    var lines = header(estimate)
    lines.append("")
    lines.append(row("Component", "Where", "GiB", "GB"))
    lines.append(String(repeating: "-", count: 66))
    for component in estimate.components {
      let label =
        component.kind.label
        + (component.device == .host ? (component.kind == .optimizerState ? " (paged)" : " (host)") : "")
      let place = component.device == .host ? "host" : component.lifetime == .resident ? "gpu" : "gpu step"
      lines.append(row(label, place, gib(component.bytes), gb(component.bytes)))
      if explain {
        lines += HelpText.wrap("= " + component.formula, width: 72).map { "      " + $0 }
        if !component.source.isEmpty {
          lines += HelpText.wrap("source: " + component.source, width: 72).map { "      " + $0 }
        }
      }
    }
    lines.append(String(repeating: "-", count: 66))
    lines.append(row("Resident on the GPU", "gpu", gib(estimate.residentBytes), gb(estimate.residentBytes)))
    let peak = estimate.peak
    lines.append(row("Peak allocated (\(peak.phase.rawValue))", "gpu", gib(peak.allocated), gb(peak.allocated)))
    lines.append(row("Peak reserved", "gpu", gib(peak.reserved), gb(peak.reserved)))
    let tool = (estimate.gpu?.vendor ?? .unknown).processMemoryTool.map { " (\($0))" } ?? ""
    lines.append(row("Peak process" + tool, "gpu", gib(peak.process), gb(peak.process)))
    if estimate.hostBytes > .zero {
      lines.append(row("Host memory of the step", "host", gib(estimate.hostBytes), gb(estimate.hostBytes)))
    }
    lines += verdict(estimate, color: color, explain: explain)
    if let changes, let verdict = estimate.verdict, verdict != .fits {
      lines.append("")
      lines += FitChangeText.lines(changes, verdict: verdict, notes: explain)
    }
    lines.append("")
    lines.append("Assumptions:")
    lines += estimate.assumptions.flatMap {
      HelpText.wrap($0, width: 76).enumerated().map { ($0 == 0 ? "- " : "  ") + $1 }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  static func header(_ estimate: MemoryEstimate) -> [String] {
    let model = estimate.model
    let setup = estimate.setup
    // The name and type come from a folder or a config.json: control characters are shown escaped.
    let type = CommandLineTool.oneLine(model.modelType) + (model.readAs.map { " read as \($0)" } ?? "")
    var lines = [
      "\(CommandLineTool.oneLine(model.name)): \(NumberText.grouped(model.parameterCount)) parameters (\(type))"
    ]
    if setup.isFullFineTune {
      let precision =
        setup.fullFineTunePrecision == .mixed
        ? "mixed precision (fp32 master, \(setup.computeDtype.rawValue) autocast)"
        : "pure \(setup.computeDtype.rawValue)"
      lines.append("full fine-tuning, \(precision), optimizer \(setup.optimizer.rawValue)")
    } else {
      let quant: String
      switch setup.quantization {
      case .nf4, .fp4:
        quant =
          setup.quantization.rawValue.uppercased() + (setup.usesDoubleQuantization ? " + double quant" : "")
          + ", block \(setup.blockSize)"
      case .int8: quant = "int8"
      case .none: quant = "16-bit base"
      }
      lines.append(
        "\(quant); LoRA r=\(setup.lora.rank) on \(setup.lora.targets.description)"
          + (setup.lora.usesDoRA ? " (DoRA)" : "") + ", \(NumberText.grouped(estimate.trainableParameters)) trainable")
    }
    lines.append(
      "\(setup.sequenceLength) tokens x batch \(setup.batchSize), \(setup.optimizer.rawValue), "
        + "\(setup.computeDtype.rawValue), \(setup.attention(for: model).rawValue), checkpointing "
        + (setup.usesGradientCheckpointing ? "on" : "off"))
    lines.append(
      "recipe \(setup.recipe.name), \(setup.trainingLoop.rawValue) loop"
        + (setup.lossImplementation.map { ", \($0.label) chunked loss" } ?? "")
        + (setup.platform == .cpu ? ", CPU kernels" : ""))
    if setup.gpuCount > 1 || setup.engine != .fsdp || !setup.offload.isEmpty {
      lines.append(
        "\(setup.engine.label) over \(setup.gpuCount) GPU\(setup.gpuCount == 1 ? "" : "s")"
          + (setup.nodeCount > 1 ? " in \(setup.nodeCount) nodes" : "")
          + (setup.offload.isEmpty ? "" : ", offload \(setup.offload.description)") + "; figures per GPU")
    }
    return lines
  }

  static func verdict(_ estimate: MemoryEstimate, color: Bool, explain: Bool = false) -> [String] {
    guard let gpu = estimate.gpu, let judgement = estimate.judgement else { return [] }
    let headroom = judgement.headroom
    let amount = ByteCount(headroom == Int64.min ? Int64.max : abs(headroom)).formatted(.binary)
    let percentText = percent(judgement.margin.relative)
    let marginText =
      judgement.contextUncertainty > .zero
      ? "the \(percentText) margin by which real runs have exceeded estimates plus the CUDA context's "
        + "\(judgement.contextUncertainty.formatted(.binary)) of uncertainty (\(judgement.marginBytes.formatted(.binary)) in all)"
      : "the \(percentText) margin (\(judgement.marginBytes.formatted(.binary))) by which real runs have exceeded estimates"
    let verdict = judgement.verdict
    let text: String
    let detail: String
    switch verdict {
    case .fits:
      (text, detail) = ("FITS, \(amount) headroom", "more than \(marginText)")
    case .tight:
      if headroom < 0, let completing = judgement.completingProcessPeak {
        (text, detail) = (
          "TIGHT, \(amount) over as simulated",
          "the simulated peak exceeds the usable capacity, but the run completes at about "
            + "\(completing.formatted(.binary)) when the allocator releases its cache (out-of-memory retries, "
            + "as real runs have), not yet validated this close to the capacity"
            + (explain ? completingFormula(estimate, completing) : "")
        )
      } else {
        (text, detail) = ("TIGHT, \(amount) headroom", "less than \(marginText)")
      }
    case .doesNotFit:
      text = "DOES NOT FIT, \(amount) over"
      detail = "the estimated peak exceeds the usable capacity, even with the allocator's cache released"
    }
    return [
      "GPU: \(CommandLineTool.oneLine(gpu.displayName)), usable \(gpu.capacity.formatted(.binary)) (\(gpu.capacity.formatted(.decimal)))",
      "Verdict: " + VerdictText.colored(text, verdict, color),
    ] + HelpText.wrap(detail, width: 71).map { "         " + $0 }
      + (estimate.validationGap.map { HelpText.wrap($0.description, width: 71).map { "         " + $0 } } ?? [])
      + estimate.notes.flatMap { HelpText.wrap("Note: " + $0, width: 78) }
  }

  /// How the completing peak is reached, for `--explain`.
  static func completingFormula(_ estimate: MemoryEstimate, _ completing: ByteCount) -> String {
    let context = estimate.peak.context
    let g = { NumberText.grouped(($0 as ByteCount).bytes) }
    return "; = peak reserved \(g(completing - context)) B, the run's schedule replayed with the capacity less "
      + "the CUDA runtime (\(g((estimate.gpu?.capacity ?? .zero) - context)) B) for the allocator, its cached "
      + "segments released when an allocation would pass it (CUDACachingAllocator release_cached_blocks), "
      + "+ CUDA runtime \(g(context)) B"
  }

  /// A fraction as a percentage with two decimals, e.g. `10.13%`.
  static func percent(_ fraction: Double) -> String { ByteCount.fixed(fraction * 100, decimals: 2) + "%" }

  static func row(_ label: String, _ place: String, _ gib: String, _ gb: String) -> String {
    HelpText.pad(String(label.prefix(36)), 36) + HelpText.pad(place, 9) + leftPad(gib, 10) + leftPad(gb, 11)
  }

  static func leftPad(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
  }

  static func gib(_ bytes: ByteCount) -> String {
    bytes.isOverflow ? "overflow" : ByteCount.fixed(bytes.gibibytes, decimals: 2)
  }

  static func gb(_ bytes: ByteCount) -> String {
    bytes.isOverflow ? "overflow" : ByteCount.fixed(bytes.gigabytes, decimals: 2)
  }
}

import QLoRABudget
import QLoRABudgetInputs

/// `diagnose`'s text: each message's figures, then (with a setup) the failure against the
/// estimate and the single changes that make the run fit.
enum DiagnosisText {
  static func render(_ messages: [OutOfMemoryMessage], _ report: DiagnosisReport?, color: Bool) -> String {
    var lines = ["Out-of-memory messages: \(messages.count)"]
    for (index, message) in messages.enumerated() {
      lines += describe(message, number: index + 1)
    }
    if let report { lines += [""] + explain(report, color: color) }
    return lines.joined(separator: "\n") + "\n"
  }

  /// A printed figure: `23.65 GiB`, or what a saturated reading is.
  static func size(_ bytes: Int64) -> String {
    bytes == Int64.max ? "saturated" : ByteCount(bytes).formatted(.binary)
  }

  static func describe(_ message: OutOfMemoryMessage, number: Int) -> [String] {
    let gpu = message.gpuIndex.map { "GPU \($0)" } ?? "GPU (index not stated)"
    let rank = message.rank.map { ", rank \($0)" } ?? ""
    var lines = ["\(EstimateText.leftPad("\(number).", 3)) \(message.backend.rawValue) out of memory on \(gpu)\(rank)"]
    func row(_ label: String, _ value: Int64?) {
      guard let value else { return }
      lines.append("    " + HelpText.pad(label, 30) + EstimateText.leftPad(size(value), 12))
    }
    row("tried to allocate", message.triedToAllocate)
    row("total capacity", message.totalCapacity)
    row("free", message.free)
    row("in use by this process", message.processInUse)
    row("allocated by PyTorch", message.allocatedByPyTorch)
    row("  of it in private pools", message.allocatedInPrivatePools)
    row("reserved by PyTorch in total", message.reservedByPyTorch)
    row("reserved but unallocated", message.reservedUnallocated)
    row("allowed (memory fraction)", message.allowed)
    for process in message.otherProcesses { row("other process \(process.pid)", process.bytes) }
    if let suggests = message.suggests { lines.append("    PyTorch suggests \(suggests.rawValue)") }
    return lines
  }

  static func explain(_ report: DiagnosisReport, color: Bool) -> [String] {
    let diagnosis = report.diagnosis
    let estimate = diagnosis.estimate
    let message = diagnosis.message
    var lines = ["Against the estimate for \(estimate.model.name) (message \(report.messageNumber)):"]
    var available = "  Capacity \(diagnosis.capacity.formatted(.binary))"
    if diagnosis.otherProcesses > .zero {
      available +=
        ", other processes hold \(size(diagnosis.otherProcesses.bytes)): \(diagnosis.available.formatted(.binary)) for this run"
    }
    lines.append(available)
    if let own = diagnosis.ownProcess {
      lines += HelpText.wrap(
        "Process \(own.pid) (\(size(own.bytes))) is taken to be the run itself: it holds what PyTorch reserved.",
        width: 76
      ).map { "  " + $0 }
    }
    lines.append("  Estimated process memory at each phase's peak:")
    for (phase, bytes) in diagnosis.phases {
      lines.append("    " + HelpText.pad(phase.rawValue, 28) + EstimateText.leftPad(bytes.formatted(.binary), 12))
    }
    if let verdict = estimate.verdict {
      lines.append(
        "  Verdict on what was available: " + VerdictText.word(verdict, color) + " ("
          + "\(estimate.peak.process.formatted(.binary)) at the \(estimate.peak.phase.rawValue) peak)")
    }
    var why: [String] = []
    if estimate.verdict == .doesNotFit {
      why.append(
        "The estimate agrees: the run needs \((estimate.peak.process - diagnosis.available).formatted(.binary)) more than the GPU had for it."
      )
    } else if estimate.verdict == .tight, let completing = estimate.completingProcessPeak,
      estimate.peak.process > diagnosis.available
    {
      why.append(
        "The estimate puts the run \((estimate.peak.process - diagnosis.available).formatted(.binary)) over what the GPU had "
          + "for it as simulated; it completes, at about \(completing.formatted(.binary)), only when the allocator "
          + "releases its cache on out-of-memory retries (tight): it can fail with no other cause.")
    } else if estimate.verdict == .tight {
      why.append(
        "The estimate puts the run within its margin below the capacity (tight): it can fail with no other cause.")
    } else {
      why.append(
        "The estimate says the setup as given fits: the failure comes from what the estimate does not hold (another setup, longer sequences, loading, evaluation) or from what follows."
      )
    }
    if let allocated = message.allocatedByPyTorch {
      why.append(
        "At the failure PyTorch had \(size(allocated)) allocated, against \(estimate.peak.allocated.formatted(.binary)) estimated at the peak."
      )
    }
    if diagnosis.otherProcesses > .zero {
      why.append("Other processes held \(size(diagnosis.otherProcesses.bytes)) of the GPU.")
    }
    if diagnosis.fragmentationIsTheDifference, let tried = message.triedToAllocate,
      let unallocated = message.reservedUnallocated
    {
      why.append(
        "Fragmentation is the difference: the \(size(tried)) request would have fit in the \(size(unallocated)) PyTorch held reserved but unallocated, had it been one block. Expandable segments let the allocator grow a segment instead:"
      )
    } else if let shortfall = diagnosis.shortfall, shortfall > .zero {
      why.append(
        "Allocated bytes are the difference: the request was \(shortfall.formatted(.binary)) more than was free, and more than reserved memory could hold."
      )
    }
    for sentence in why { lines += HelpText.wrap(sentence, width: 76).map { "  " + $0 } }
    if diagnosis.fragmentationIsTheDifference { lines.append("    " + diagnosis.allocatorSetting) }
    lines.append("")
    lines += FitChangeText.lines(report.changes, verdict: estimate.verdict ?? .doesNotFit, notes: false)
    return lines
  }
}

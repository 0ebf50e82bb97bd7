import FileSafety
import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Safetensors

/// One measured figure against its estimate.
public struct ValidationRow: Hashable, Sendable {
  public let dataSet: String
  public let caseName: String
  public let setup: String
  public let figure: String
  public let measured: Int64
  public let estimated: Int64
  /// `(estimated - measured) / measured * 100`.
  public var errorPercent: Double { Double(estimated - measured) / Double(measured) * 100 }
}

/// One published row (Tests/Calibration/published) against our estimate of its mapped setup.
public struct PublishedComparison: Sendable {
  public let id: String
  public let model: String
  public let trust: String
  public let setup: String
  /// The mapped setup's recipe (``Recipe/name``), and whether the run used FSDP or DeepSpeed
  /// (the mapped setup's ``TrainingSetup/usesEngine``) or several GPUs (the row's `num_gpus`:
  /// fsdp_qlora's DDP rows run FSDP NO_SHARD on two GPUs and are estimated as one): which verdict
  /// margin the row tests (``ValidationReport/engineVerdictMargin``).
  public let recipe: String
  public let usesEngine: Bool
  public let assumptions: [String]
  public let figure: PublishedMapping.Figure
  /// The figure as published, in `unit`.
  public let value: Double
  public let unit: PublishedMapping.Unit
  /// The figure in bytes: one reading when the unit is stated, GB and GiB when it is not.
  public let readings: [(unit: String, bytes: Int64)]
  /// Our matching figure (allocated, reserved or process), bytes.
  public let estimated: Int64
  public let verdict: Verdict?
  public let capacity: ByteCount?
  /// The row ran out of memory: its value says OOM, or it is an out-of-memory report
  /// (oom-reports.json, `outcome` "out of memory").
  public let reportsOOM: Bool
  /// Our peak reserved exceeds the GPU and `estimated` is the run's peak with the allocator
  /// releasing its cache on out-of-memory retries (``PublishedMapping/Figure/reserved`` rows).
  public let completesByReleasingCache: Bool

  /// `(estimated - measured) / measured * 100`, per reading.
  public var errors: [(unit: String, percent: Double)] {
    readings.map { ($0.unit, Double(estimated - $0.bytes) / Double($0.bytes) * 100) }
  }

  /// The error with the figure read as `unit` ("GB" or "GiB"): the stated unit when there is one.
  public func errorPercent(reading unit: String) -> Double? {
    let all = errors
    return (all.first { $0.unit == unit } ?? (all.count == 1 ? all.first : nil))?.percent
  }

  /// high (trust "high..." or "medium-high..."), medium ("medium ..."), low (everything else).
  public var trustGroup: String {
    let t = trust.lowercased()
    if t.hasPrefix("high") || t.hasPrefix("medium-high") { return "high" }
    if t.hasPrefix("medium") && !t.hasPrefix("medium-low") { return "medium" }
    return "low"
  }

  /// Our verdict says `fits` although the row ran out of memory or measured more than the GPU
  /// (the smaller reading, so an unstated unit cannot make it so).
  public var isWrongFit: Bool {
    guard verdict == .fits, figure != .budget else { return false }
    if reportsOOM { return true }
    guard let capacity, let smallest = readings.map(\.bytes).min() else { return false }
    return smallest > capacity.bytes
  }

  /// Our verdict says `does_not_fit` although the row ran: no out-of-memory report, a measured
  /// peak (not a budget) no larger than the GPU (the larger reading, so an unstated unit cannot
  /// make it so).
  public var isWrongDoesNotFit: Bool {
    guard verdict == .doesNotFit, figure != .budget, !reportsOOM else { return false }
    guard let capacity, let largest = readings.map(\.bytes).max() else { return false }
    return largest <= capacity.bytes
  }
}

/// Every comparison of the estimator against Tests/Calibration/, and the summary statistics.
public struct ValidationReport: Sendable {
  public var rows: [ValidationRow] = []
  /// GPU cases whose estimate says `fits` although the measured process peak exceeded the GPU.
  public var wrongFits: [String] = []
  /// GPU cases checked for the verdict.
  public var verdictCases = 0
  /// Published rows compared with our estimate (see ``PublishedMapping``).
  public var published: [PublishedComparison] = []
  /// Published rows a recipe expresses but whose figure depends on something not modelled yet
  /// (``PublishedMapping/expressedOnly``): compared, shown, and kept out of the accuracy bar.
  public var expressed: [(comparison: PublishedComparison, reason: String)] = []
  /// Mapped rows compared again under their recipe's default attention
  /// (``PublishedMapping/withRecipesOwnAttention``): shown in the analysis, kept out of the bar.
  public var recipesOwnAttention: [PublishedComparison] = []
  /// Published rows that do not map, shown as context with the reason (`reason`).
  public var context: [[String: String]] = []
  /// Real out-of-memory reports (published/oom-reports.json) mapped onto a setup we model
  /// (``PublishedMapping/outOfMemoryReports``): their verdict must never be `fits`.
  public var outOfMemory: [PublishedComparison] = []
  /// Out-of-memory reports that do not map, with the reason (`reason`), as ``context``.
  public var outOfMemoryContext: [[String: String]] = []
  /// Cases that could not be estimated, with the reason.
  public var skipped: [String] = []

  /// Absolute errors (percent) of one figure of one data set.
  public func absoluteErrors(dataSet: String, figure: String) -> [Double] {
    rows.filter { $0.dataSet == dataSet && $0.figure == figure }.map { abs($0.errorPercent) }
  }

  public static func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  }
}

/// Runs the estimator on every calibration case. Pure apart from reading the files given.
public enum CalibrationValidation {
  public static let cpuDataSet = "cpu-steps"
  /// Steps measured with the same tool on setups the model was not built from (other
  /// dimensions, regimes, Gemma-2, FP4): the out-of-sample check.
  public static let cpuOutOfSampleDataSet = "cpu-steps-out-of-sample"
  public static let gpuDataSet = "fitcheck-t4"

  /// The largest calibration file read (the repository's are under 1 MB).
  public static let maximumFileBytes: Int64 = 16 << 20

  /// Reads `directory` (the repository's Tests/Calibration/ folder, or a copy with the same
  /// layout). A missing file is skipped; one that is not a regular file or is over
  /// ``maximumFileBytes`` is an error.
  public static func run(directory: URL) throws -> ValidationReport {
    func data(_ path: String) throws -> Data? {
      let file = directory.appendingPathComponent(path).path
      guard FileManager.default.fileExists(atPath: file) else { return nil }
      return try ReadableFile.contents(of: file, limit: maximumFileBytes, what: "a calibration file")
    }
    let gpuFolder = "gpu-measured/fitcheck-t4/"
    return try run(
      cpuSteps: try data("cpu-steps/cpu-steps.json"), cpuOutOfSample: try data("cpu-steps/out-of-sample.json"),
      gpuRuns: try ["final-t4-20260921.json", "t4-qlora-2026-09-01.json"].compactMap { try data(gpuFolder + $0) },
      gpuModels: try data(gpuFolder + "models.json"),
      published: try data("published/measurements.json"), morePublished: try data("published/more-runs.json"),
      outOfMemory: try data("published/oom-reports.json"))
  }

  /// `published` and `morePublished` are lists of published rows read alike (measurements.json and
  /// more-runs.json); `outOfMemory` lists out-of-memory reports (oom-reports.json).
  public static func run(
    cpuSteps: Data?, cpuOutOfSample: Data? = nil, gpuRuns: [Data], gpuModels: Data?, published: Data?,
    morePublished: Data? = nil, outOfMemory: Data? = nil
  ) throws -> ValidationReport {
    var report = ValidationReport()
    if let cpuSteps { try cpu(cpuSteps, dataSet: cpuDataSet, &report) }
    if let cpuOutOfSample { try cpu(cpuOutOfSample, dataSet: cpuOutOfSampleDataSet, &report) }
    let models = try gpuModels.flatMap { try JSONSerialization.jsonObject(with: $0) as? [String: [String: Any]] } ?? [:]
    for file in gpuRuns { try gpu(file, models: models, &report) }
    let publishedFiles = [published, morePublished].compactMap { $0 }
    if !publishedFiles.isEmpty { try self.published(publishedFiles, &report) }
    if let outOfMemory { try self.outOfMemory(outOfMemory, &report) }
    return report
  }

  // MARK: CPU steps

  /// The figures of a cpu-steps case compared per case: the step profile's, by name.
  public static let cpuFigures = ["saved_for_backward", "peak_forward", "peak_backward", "peak_optimizer"]

  /// The CPU-kernel step profile's figures of one case, keyed as ``cpuFigures``: what autograd
  /// saves for backward and the peak of each phase, bytes above the resident ones.
  public static func cpuEstimates(model: ModelArchitecture, setup: TrainingSetup) throws -> [String: ByteCount] {
    let profile = try MemoryEstimator.stepProfile(model: model, setup: setup)
    return ["saved_for_backward": profile.savedForBackward]
      .merging(profile.phases.map { ("peak_" + $0.name.rawValue, $0.bytes) }) { a, _ in a }
  }

  /// The percent error, (estimated - measured) / measured x 100, of every ``cpuFigures`` figure
  /// of every measure_step.py case in `entries` against its `full_model` measurement, keyed by
  /// figure, then case name.
  public static func cpuPercentErrors(_ entries: [String: [String: Any]]) throws -> [String: [String: Double]] {
    var result: [String: [String: Double]] = [:]
    for (name, entry) in entries {
      let (model, setup) = try cpuStepSetup(entry, name: name)
      let estimated = try cpuEstimates(model: model, setup: setup)
      guard let full = entry["full_model"] as? [String: Any] else {
        throw MappingMismatch(description: "\(name): no full_model")
      }
      for figure in cpuFigures {
        guard let measured = (full[figure] as? NSNumber)?.int64Value, measured > 0, let bytes = estimated[figure]?.bytes
        else { throw MappingMismatch(description: "\(name): no full_model \(figure)") }
        result[figure, default: [:]][name] = Double(bytes - measured) / Double(measured) * 100
      }
    }
    return result
  }

  /// Each case of cpu-steps.json (measured by measure_step.py, README beside it) against the
  /// CPU-kernel step profile of the same setup.
  static func cpu(_ data: Data, dataSet: String, _ report: inout ValidationReport) throws {
    guard let root = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else { return }
    for (name, entry) in root.sorted(by: { $0.key < $1.key }) {
      guard let full = entry["full_model"] as? [String: Any] else {
        report.skipped.append("\(name): no full_model")
        continue
      }
      do {
        let (model, setup) = try cpuStepSetup(entry, name: name)
        let estimated = try cpuEstimates(model: model, setup: setup)
        let summary = describe(setup, model: model)
        for figure in cpuFigures {
          report.rows.append(
            ValidationRow(
              dataSet: dataSet, caseName: name, setup: summary, figure: figure,
              measured: int(full[figure]), estimated: estimated[figure]?.bytes ?? 0))
        }
      } catch {
        report.skipped.append("\(name): \(error)")
      }
    }
  }

  /// The model and setup of one measure_step.py case: the model built from `model_config` in
  /// bf16 (`from_pretrained(..., dtype=torch.bfloat16)`), 4-bit with double quantization and
  /// bf16 compute after `prepare_model_for_kbit_training` (LLM.int8 for `quant` "int8"), or left bf16 (`quant` "none");
  /// `lora_alpha = 2r`; DoRA when `use_dora`; AdamW; bf16 autocast when `autocast`; the CPU kernels;
  /// the recipe named by `recipe` when given (its dtype casts applied after get_peft_model).
  public static func cpuStepSetup(_ entry: [String: Any], name: String) throws -> (ModelArchitecture, TrainingSetup) {
    guard var config = entry["model_config"] as? [String: Any] else {
      throw MappingMismatch(description: "no model_config")
    }
    guard let type = entry["model_type"] as? String else { throw MappingMismatch(description: "no model_type") }
    config["model_type"] = type
    let model = try ModelArchitecture(configData: try JSONSerialization.data(withJSONObject: config), name: name)
    var setup = TrainingSetup()
    let quant = entry["quant"] as? String ?? "nf4"
    guard let quantization = ["nf4": BaseQuantization.nf4, "fp4": .fp4, "int8": .int8, "none": .none][quant] else {
      throw MappingMismatch(description: "quant \(quant) is not nf4, fp4, int8 or none")
    }
    setup.quantization = quantization
    setup.usesDoubleQuantization = true
    setup.computeDtype = .bf16
    setup.isFullFineTune = entry["full"] as? Bool ?? false
    let rank = max(1, int(entry["r"]))
    setup.lora = LoRAConfiguration(
      rank: rank, targets: targets(entry["targets"]),
      usesDoRA: entry["use_dora"] as? Bool ?? false, dropout: (entry["dropout"] as? NSNumber)?.doubleValue ?? 0)
    setup.sequenceLength = int(entry["seq"])
    setup.batchSize = int(entry["batch"])
    setup.gradientCheckpointing = entry["gc"] as? Bool
    setup.attention = AttentionImplementation(rawValue: entry["attn"] as? String ?? "sdpa") ?? .sdpa
    setup.usesAutocast = entry["autocast"] as? Bool ?? true
    setup.loop = TrainingLoop(rawValue: entry["loop"] as? String ?? "trainer") ?? .trainer
    setup.optimizer = Optimizer(rawValue: entry["optimizer"] as? String ?? "adamw") ?? .adamw
    setup.platform = .cpu
    if let name = entry["recipe"] as? String {
      guard let recipe = Recipe.named(name) else { throw MappingMismatch(description: "recipe \(name) is unknown") }
      setup.recipe = recipe
    }
    return (model, setup)
  }

  // MARK: GPU (fitcheck on a Tesla T4)

  /// The T4 of these runs: 14,912 MiB usable (calibration README).
  public static let fitcheckT4 = GPU(
    name: "t4", displayName: "Tesla T4 (fitcheck, 14,912 MiB)", vendor: .nvidia, architecture: .turing,
    computeCapability: ComputeCapability(major: 7, minor: 5), capacity: .mebibytes(14_912), supportsBFloat16: false,
    hasUnifiedMemory: false, aliases: [],
    source: "Tests/Calibration/README.md")

  /// The setup of one fitcheck run (its `run` object): measure.py's plain loop without autocast,
  /// AdamW, LoRA dropout 0.
  public static func gpuRunSetup(_ run: [String: Any]) -> TrainingSetup {
    var setup = TrainingSetup()
    setup.quantization = (run["quantization"] as? String) == "nf4" ? .nf4 : .none
    setup.usesDoubleQuantization = run["double_quant"] as? Bool ?? false
    setup.computeDtype = (run["precision"] as? String) == "bf16" ? .bf16 : .fp16
    setup.lora = LoRAConfiguration(rank: int(run["lora_rank"]), targets: targets(run["lora_targets"]), dropout: 0)
    setup.sequenceLength = int(run["seq_len"])
    setup.batchSize = int(run["batch_size"])
    setup.gradientCheckpointing = run["grad_checkpoint"] as? Bool
    setup.attention = (run["attn_impl"] as? String) == "sdpa" ? .sdpa : .eager
    setup.usesAutocast = false
    setup.optimizer = .adamw
    setup.loop = .plain
    return setup
  }

  static func gpu(_ data: Data, models: [String: [String: Any]], _ report: inout ValidationReport) throws {
    guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
      let runs = root["runs"] as? [[String: Any]]
    else { return }
    for entry in runs {
      let id = entry["model_id"] as? String ?? "?"
      let label = "\(id) | \(entry["config"] as? String ?? "")"
      guard let run = entry["run"] as? [String: Any], let measured = entry["measured"] as? [String: Any],
        var config = models[id]
      else {
        report.skipped.append("\(label): no run, measurement or model config")
        continue
      }
      config.removeValue(forKey: "parameters")
      do {
        let model = try ModelArchitecture(configData: try JSONSerialization.data(withJSONObject: config), name: id)
        let setup = gpuRunSetup(run)
        let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: fitcheckT4)
        let peak = estimate.peak
        let summary = describe(setup, model: model)
        func mib(_ key: String) -> Int64? {
          (measured[key] as? NSNumber).map { Int64(($0.doubleValue * 1_048_576).rounded()) }
        }
        for (figure, key, value) in [
          ("peak_allocated", "peak_allocated_mib", peak.allocated),
          ("peak_reserved", "peak_reserved_mib", peak.reserved),
          ("process", "process_mib", peak.process),
          // The bracket: the same run with the other loader model (threaded vs sequential).
          (
            "peak_reserved_other_loader", "peak_reserved_mib",
            estimate.reserve?.otherLoaderPeakReserved ?? peak.reserved
          ),
        ] {
          guard let m = mib(key) else { continue }
          report.rows.append(
            ValidationRow(
              dataSet: gpuDataSet, caseName: label, setup: summary, figure: figure, measured: m, estimated: value.bytes)
          )
        }
        if let process = mib("process_mib") {
          report.verdictCases += 1
          if process > fitcheckT4.capacity.bytes, estimate.verdict == .fits { report.wrongFits.append(label) }
        }
      } catch {
        report.skipped.append("\(label): \(error)")
      }
    }
  }

  // MARK: Published figures

  static func published(_ files: [Data], _ report: inout ValidationReport) throws {
    let rows = try files.flatMap { try JSONSerialization.jsonObject(with: $0) as? [[String: Any]] ?? [] }
    let mappings = Dictionary(uniqueKeysWithValues: PublishedMapping.all.map { ($0.id, $0) })
    let expressed = Dictionary(
      uniqueKeysWithValues: (PublishedMapping.expressedOnly + PublishedMapping.otherLibraryVersions).map {
        ($0.mapping.id, $0)
      })
    for row in rows {
      let id = row["id"] as? String ?? "?"
      if let (mapping, reason) = expressed[id] {
        do {
          report.expressed.append((try compare(row, mapping), reason))
        } catch {
          report.skipped.append("published \(id): \(error)")
        }
        continue
      }
      guard let mapping = mappings[id] else {
        report.context.append(contextFields(row))
        continue
      }
      do {
        report.published.append(try compare(row, mapping))
        if let variant = mapping.withRecipesOwnAttention {
          report.recipesOwnAttention.append(try compare(row, variant))
        }
      } catch {
        report.skipped.append("published \(id): \(error)")
      }
    }
  }

  /// Each out-of-memory report against our estimate of its mapped setup; the rest as context.
  static func outOfMemory(_ data: Data, _ report: inout ValidationReport) throws {
    guard let rows = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return }
    let mappings = Dictionary(uniqueKeysWithValues: PublishedMapping.outOfMemoryReports.map { ($0.id, $0) })
    for row in rows {
      let id = row["id"] as? String ?? "?"
      guard let mapping = mappings[id] else {
        report.outOfMemoryContext.append(contextFields(row))
        continue
      }
      do {
        report.outOfMemory.append(try compare(row, mapping))
      } catch {
        report.skipped.append("out-of-memory report \(id): \(error)")
      }
    }
  }

  /// A row that does not map, as docs/validation.md lists it: its setup fields and why.
  static func contextFields(_ row: [String: Any]) -> [String: String] {
    var fields = ["reason": PublishedMapping.reason(row)]
    for key in [
      "id", "model", "quantization", "framework", "gpu", "value", "unit", "metric", "trust", "seq_len",
      "batch_size", "lora_rank",
    ] {
      if let value = row[key], !(value is NSNull) { fields[key] = "\(value)" }
    }
    return fields
  }

  struct MappingMismatch: Error, CustomStringConvertible { let description: String }

  static func compare(_ row: [String: Any], _ mapping: PublishedMapping) throws -> PublishedComparison {
    // The mapping restates the row's length and batch; a transcription slip is an error, not a case.
    for (key, mapped) in [("seq_len", mapping.setup.sequenceLength), ("batch_size", mapping.setup.batchSize)] {
      guard int(row[key]) == mapped else {
        throw MappingMismatch(description: "\(key) \(row[key] ?? "nil") != mapped \(mapped)")
      }
    }
    guard let value = (row["value"] as? NSNumber)?.doubleValue else {
      throw MappingMismatch(description: "no numeric value")
    }
    let model = try PresetCatalog.bundled.model(named: mapping.model)
    var gpu: GPU? = nil
    if let name = mapping.gpu {
      gpu =
        name.hasSuffix("GB")
        ? GPU.custom(capacity: ByteCount(Int64(name.dropLast(2))! * 1_000_000_000), label: name)
        : try PresetCatalog.bundled.gpu(named: name)
    }
    let estimate = try MemoryEstimator.estimate(model: model, setup: mapping.setup, gpu: gpu)
    let peak = estimate.peak
    let ours: ByteCount
    let releasedCache = estimate.reserve?.completingPeakReserved
    switch mapping.figure {
    case .allocated: ours = peak.allocated
    // A measured reserved peak never exceeds the GPU: past it the allocator released its cache.
    case .reserved: ours = releasedCache ?? peak.reserved
    case .process, .budget: ours = peak.process
    }
    var readings: [(unit: String, bytes: Int64)] = []
    if mapping.unit != .gib { readings.append(("GB", Int64((value * 1e9).rounded()))) }
    if mapping.unit != .gb { readings.append(("GiB", Int64((value * 1_073_741_824).rounded()))) }
    return PublishedComparison(
      id: mapping.id, model: "\(row["model"] ?? mapping.model)", trust: row["trust"] as? String ?? "",
      setup:
        "\(mapping.model) on \(gpu?.name ?? "no GPU")\(mapping.setup.gpuCount > 1 ? " x\(mapping.setup.gpuCount)" : ""), "
        + (mapping.setup.gpuCount > 1 || !mapping.setup.offload.isEmpty
          ? "\(mapping.setup.engine.rawValue)\(mapping.setup.offload.isEmpty ? "" : " offload \(mapping.setup.offload.description)"), "
          : "")
        + "\(mapping.setup.recipe.name), " + describe(mapping.setup, model: model)
        + (mapping.setup.usesChunkedCrossEntropy ? ", chunked loss" : "")
        + (mapping.setup.effectiveLoss == .fp32Logits ? ", fp32-logits loss" : "")
        + ", \(mapping.setup.optimizer.rawValue)",
      recipe: mapping.setup.recipe.name, usesEngine: mapping.setup.usesEngine || int(row["num_gpus"]) > 1,
      assumptions: mapping.assumptions, figure: mapping.figure, value: value, unit: mapping.unit, readings: readings,
      estimated: ours.bytes, verdict: estimate.verdict, capacity: gpu?.capacity,
      reportsOOM: "\(row["value"] ?? "")".uppercased().contains("OOM")
        || (row["outcome"] as? String ?? "").lowercased() == "out of memory",
      completesByReleasingCache: mapping.figure == .reserved && releasedCache != nil)
  }

  // MARK: Helpers

  static func int(_ value: Any?) -> Int64 { (value as? NSNumber)?.int64Value ?? 0 }

  static func targets(_ value: Any?) -> LoRATargets {
    if let names = value as? [String] { return .modules(names) }
    if let name = value as? String, name != "all-linear" { return .modules([name]) }
    return .allLinear
  }

  static func describe(_ setup: TrainingSetup, model: ModelArchitecture) -> String {
    "\(setup.effectiveQuantization.rawValue)\(setup.usesDoubleQuantization ? "+dq" : ""), r\(setup.lora.rank)\(setup.lora.usesDoRA ? " DoRA" : "") "
      + "\(setup.lora.targets.description), drop \(setup.loraDropout), s\(setup.sequenceLength) b\(setup.batchSize), "
      + "\(setup.attention.rawValue), gc \(setup.usesGradientCheckpointing ? "on" : "off"), "
      + "autocast \(setup.usesAutocast ? "on" : "off"), \(setup.computeDtype.rawValue), L\(model.layerCount), "
      + "\(setup.trainingLoop.rawValue) loop" + (setup.isFullFineTune ? ", full fine-tune" : "")
  }
}

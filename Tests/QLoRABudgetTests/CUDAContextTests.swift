import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The CUDA context by architecture, each figure from its source written out here, and its
/// uncertainty in the verdict.
@Suite struct CUDAContextTests {
  static let presets = PresetCatalog.bundled
  static let mebibyte: Int64 = 1_048_576

  /// What the verdict allows for the context on a preset, in MiB, from the sources: bare contexts
  /// of 104.875 MiB on 40 SMs (T4, fitcheck-t4 cuda_context_init_mib) and 426 MiB on 142 SMs (RTX
  /// 6000 Ada, unsloth-zoo#1053) make (426 - 104.875) / 102 = 3.148 MiB per SM. Ampere figures
  /// come from an RTX 3090 (82 SMs), the A100 has 108: 3.148 x 26 = 81.8 -> 82. Turing from the
  /// T4 (40), the RTX 2080 Ti has 68: 3.148 x 28 = 88.1 -> 89; Blackwell assumed at Ada's 142 SMs,
  /// the RTX 5090 has 170: 89 again. None on the GPU measured, on Ada, Volta or Hopper (no more SMs
  /// than 142).
  static func allowanceMiB(_ gpu: GPU) -> Int64 {
    if gpu.vendor != .nvidia && gpu.vendor != .unknown || gpu.hasUnifiedMemory { return 0 }
    switch (gpu.architecture, gpu.name) {
    case (.turing, "t4"), (.ampere, "rtx-3090"): return 0
    case (.turing, _): return 89
    case (.ampere, _): return 82
    case (.adaLovelace, _), (.volta, _), (.hopper, _): return 0
    default: return 89
    }
  }

  @Test(arguments: [
    // (preset, context in MiB x 1000, uncertainty in MiB)
    ("t4", Int64(140_875), Int64(0)),  // measured: fitcheck-t4 cuda_context_mib
    ("rtx-2080-ti", 140_875, 89),
    ("rtx-3090", 292_000, 0),  // InvokeAI#9413: 256 MiB bare (torch 2.7.1+cu128) + 36 (T4: 140.875 - 104.875)
    ("a100-80gb", 292_000, 82),
    ("rtx-6000-ada", 462_000, 0),  // unsloth-zoo#1053: 426 MiB after mem_get_info (torch 2.10.0+cu130) + 36
    ("rtx-4090", 462_000, 0),
    ("h100-80gb", 462_000, 0),  // assumed: the largest published
    ("v100-32gb", 462_000, 0),
    ("rtx-5090", 462_000, 89),
    ("b200", 462_000, 89),
    ("mi300x", 0, 0),
    ("apple-m2-max-64gb", 0, 0),
  ])
  func contextAndUncertaintyByArchitecture(preset: String, thousandthsMiB: Int64, uncertaintyMiB: Int64) throws {
    let gpu = try Self.presets.gpu(named: preset)
    let context = CUDAContext.of(gpu)
    #expect(context.bytes.bytes == thousandthsMiB * Self.mebibyte / 1000)
    #expect(context.uncertainty.bytes == uncertaintyMiB * Self.mebibyte)
    #expect(uncertaintyMiB == Self.allowanceMiB(gpu))
  }

  @Test func aDeviceKnownOnlyByItsCapacityGetsTheAssumption() {
    let context = CUDAContext.of(GPU.custom(capacity: .gibibytes(24), label: "24GiB"))
    #expect(context.bytes.bytes == 462 * Self.mebibyte)
    #expect(context.uncertainty.bytes == 89 * Self.mebibyte)
    #expect(context.basis == .assumed)
  }

  /// Every CUDA context's source says the loading mode it assumes (pytorch/pytorch#86509: lazy
  /// loading since PyTorch 1.13 with CUDA 11.7); a device without CUDA has no context to qualify.
  @Test func theContextNamesTheLoadingModeItAssumes() throws {
    for name in ["t4", "rtx-4090", "h100-80gb"] {
      let source = RuntimeOverhead.context(for: try Self.presets.gpu(named: name)).source
      #expect(source.contains("lazy module loading") && source.contains("pytorch/pytorch#86509"), "\(name)")
    }
    #expect(RuntimeOverhead.context(for: GPU.custom(capacity: .gibibytes(24), label: "24GiB")).source.contains("lazy"))
    let apple = RuntimeOverhead.context(for: try Self.presets.gpu(named: "apple-m1-max-32gb"))
    #expect(apple.bytes == .zero && !apple.source.contains("lazy"))
  }

  /// The process peak is the reserved peak plus the context; off CUDA there is none.
  @Test func theProcessPeakCarriesTheContext() throws {
    let model = try Self.presets.model(named: "qwen3-0.6b")
    let gpu = try Self.presets.gpu(named: "a100-80gb")
    let estimate = try MemoryEstimator.estimate(model: model, setup: TrainingSetup(), gpu: gpu)
    #expect(estimate.peak.process.bytes - estimate.peak.reserved.bytes == 292 * Self.mebibyte)
    let judgement = try #require(estimate.judgement)
    #expect(judgement.contextUncertainty.bytes == 82 * Self.mebibyte)
    let peak = estimate.peak.process.bytes
    let relative = Int64((Double(peak) * (1 + VerdictMargin.measured.relative)).rounded(.up)) - peak
    #expect(judgement.marginBytes.bytes == relative + 82 * Self.mebibyte)
    var cpu = TrainingSetup()
    cpu.platform = .cpu
    #expect(try MemoryEstimator.estimate(model: model, setup: cpu, gpu: gpu).contextUncertainty == .zero)
  }

  /// The allowance moves a verdict from fits to tight: with a 10% margin, 9,000 MiB is 9,900 MiB
  /// with it, within 9,950; 82 MiB more is 9,982, over it.
  @Test func theAllowanceIsPartOfTheMargin() {
    let margin = VerdictMargin(relative: 0.10, statistic: "test")
    let peak = ByteCount.mebibytes(9_000)
    let capacity = ByteCount.mebibytes(9_950)
    #expect(Verdict(peak: peak, capacity: capacity, margin: margin) == .fits)
    #expect(Verdict(peak: peak, capacity: capacity, margin: margin, allowance: .mebibytes(82)) == .tight)
    #expect(Verdict(peak: .mebibytes(9_951), capacity: capacity, margin: margin) == .doesNotFit)
  }
}

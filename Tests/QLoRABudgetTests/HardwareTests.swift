import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Testing

/// What a GPU can run: the presets' hardware facts, ``GPU/incompatibilities(with:)``, the
/// estimate's report of them and the smallest-GPU search that respects them.
@Suite struct HardwareTests {
  static let presets = PresetCatalog.bundled

  static func setup(_ dtype: ComputeDtype, _ quantization: BaseQuantization = .nf4) -> TrainingSetup {
    var setup = TrainingSetup()
    setup.computeDtype = dtype
    setup.quantization = quantization
    return setup
  }

  /// Turing and Volta have no bf16 tensor cores (NVIDIA's architecture whitepapers; torch's
  /// `is_bf16_supported()` is false natively before sm_80): bf16 is flagged, fp16 is not.
  @Test(arguments: ["t4", "v100-16gb", "v100-32gb", "rtx-2080", "rtx-2080-ti"])
  func bf16BeforeAmpereIsAnIncompatibility(_ name: String) throws {
    let gpu = try Self.presets.gpu(named: name)
    #expect(
      gpu.incompatibilities(with: Self.setup(.bf16)) == [
        .computeDtypeUnsupported(.bf16, gpu: gpu.displayName, vendor: .nvidia)
      ])
    #expect(gpu.incompatibilities(with: Self.setup(.fp16)).isEmpty)
  }

  @Test(arguments: ["a10g", "l4", "rtx-3070", "rtx-4060", "rtx-4090", "a100-80gb", "h100-80gb", "b200", "mi300x"])
  func ampereAndLaterRunBF16QLoRA(_ name: String) throws {
    #expect(try Self.presets.gpu(named: name).incompatibilities(with: Self.setup(.bf16)).isEmpty)
  }

  /// Apple's unified-memory GPUs have no bitsandbytes backend: a 4-bit base or an 8-bit/paged
  /// optimizer is flagged; 16-bit LoRA with plain AdamW is not.
  @Test func appleDevicesAreNotOfferedBitsandbytes() throws {
    let m4 = try Self.presets.gpu(named: "apple-m4-max-128gb")
    #expect(m4.incompatibilities(with: Self.setup(.bf16)) == [.bitsandbytesUnavailable(gpu: m4.displayName)])
    var paged = Self.setup(.bf16, .none)
    paged.optimizer = .pagedAdamw
    #expect(m4.incompatibilities(with: paged) == [.bitsandbytesUnavailable(gpu: m4.displayName)])
    #expect(m4.incompatibilities(with: Self.setup(.bf16, .none)).isEmpty)
    // The M1 has neither bf16 nor bitsandbytes.
    let m1 = try Self.presets.gpu(named: "apple-m1-max-32gb")
    #expect(
      m1.incompatibilities(with: Self.setup(.bf16)).map(\.kind) == [
        "compute_dtype_unsupported", "bitsandbytes_unavailable",
      ])
  }

  /// The library speaks no flag text: the command line adds its flags to these messages.
  @Test func incompatibilityMessagesNameNoFlag() {
    for incompatibility in [
      HardwareIncompatibility.computeDtypeUnsupported(.bf16, gpu: "g", vendor: .nvidia),
      .bitsandbytesUnavailable(gpu: "g"),
    ] {
      #expect(!incompatibility.description.contains("--"))
    }
    #expect(!ArchitectureError.unmodelledType("kimi_k2", model: "m").description.contains("--"))
  }

  @Test func theEstimateCarriesTheIncompatibilitiesAsWarnings() throws {
    let model = try Self.presets.model(named: "smollm2-135m")
    let t4 = try Self.presets.gpu(named: "t4")
    let estimate = try MemoryEstimator.estimate(model: model, setup: Self.setup(.bf16), gpu: t4)
    #expect(estimate.incompatibilities == [.computeDtypeUnsupported(.bf16, gpu: t4.displayName, vendor: .nvidia)])
    #expect(estimate.warnings.contains { $0.contains("no native bf16") })
    let fp16 = try MemoryEstimator.estimate(model: model, setup: Self.setup(.fp16), gpu: t4)
    #expect(fp16.incompatibilities.isEmpty && fp16.warnings.isEmpty)
    // Without a GPU there is nothing to be incompatible with.
    #expect(try MemoryEstimator.estimate(model: model, setup: Self.setup(.bf16), gpu: nil).incompatibilities.isEmpty)
  }

  /// A 135M model fits every card here by bytes, so the answer is decided by compatibility alone.
  @Test func theSmallestGPUSearchSkipsGPUsThatCannotRunTheSetup() throws {
    let model = try Self.presets.model(named: "smollm2-135m")
    let gpus = try ["t4", "apple-m1-pro-16gb", "a10g"].map { try Self.presets.gpu(named: $0) }
    let bf16 = try Planner.smallestGPU(model: model, setup: Self.setup(.bf16), among: gpus)
    #expect(bf16?.estimate?.gpu?.name == "a10g")
    let fp16 = try Planner.smallestGPU(model: model, setup: Self.setup(.fp16), among: gpus)
    #expect(fp16?.estimate?.gpu?.name == "t4")
  }

  // MARK: the presets' hardware facts

  /// Every NVIDIA preset's bf16 flag agrees with its compute capability (bf16 from sm_80), and
  /// every preset names a known vendor and architecture of that vendor.
  @Test(arguments: PresetCatalog.bundled.gpuNames)
  func everyGPUPresetStatesConsistentHardware(_ name: String) throws {
    let gpu = try Self.presets.gpu(named: name)
    let architecture = try #require(gpu.architecture)
    #expect(architecture.vendor == gpu.vendor)
    #expect(gpu.hasUnifiedMemory == (gpu.vendor == .apple))
    if gpu.vendor == .nvidia {
      let capability = try #require(gpu.computeCapability)
      #expect(gpu.supportsBFloat16 == (capability.major >= 8))
    } else {
      #expect(gpu.computeCapability == nil)
    }
  }

  /// The capacity is what a process can allocate on Linux: never above nvidia-smi's
  /// memory.total where the preset records one, with a basis and a source for the figure.
  @Test(arguments: PresetCatalog.bundled.gpuNames)
  func everyGPUCapacityHasABasisAndASource(_ name: String) throws {
    let json = try TestData.json(
      Data(contentsOf: TestData.packageRoot.appendingPathComponent("Presets/gpus/\(name).json")))
    let memory = try #require(json["memory_mib"] as? Int64)
    if let smi = json["nvidia_smi_total_mib"] as? Int64 { #expect(memory <= smi) }
    let bases: Set = [
      "torch_total_memory", "torch_oom_message", "cuda_total_global_mem", "nvidia_smi_memory_total",
      "metal_recommended_max_working_set_size",
    ]
    #expect(bases.contains(json["memory_mib_basis"] as? String ?? ""))
    #expect(((json["source"] as? String) ?? "").count > 40)
  }

  /// The Linux figures the issue named, as the presets' sources quote them: torch's 'total
  /// capacity' of 23.49 GiB (RTX 4090), 22.05 GiB (L4) and 14.56 GiB (T4), +/- 5 MiB of rounding;
  /// CUDA's totalGlobalMem of 10,472,390,656 bytes (RTX 3080) and llama.cpp's 32106 MiB (RTX 5090).
  @Test func theLinuxCapacitiesReplaceTheWindowsAndMarketingFigures() throws {
    func mib(_ name: String) throws -> Int64 { try Self.presets.gpu(named: name).capacity.bytes / 1_048_576 }
    #expect(abs(try mib("rtx-4090") - Int64((23.49 * 1024).rounded())) <= 5)
    #expect(abs(try mib("l4") - Int64((22.05 * 1024).rounded())) <= 5)
    #expect(abs(try mib("t4") - Int64((14.56 * 1024).rounded())) <= 5)
    #expect(try mib("rtx-3080") == 10_472_390_656 / 1_048_576)
    #expect(try mib("rtx-5090") == 32106)
    for windowsOrMarketing in [
      ("rtx-4090", 24563), ("rtx-5090", 32607), ("rtx-3080", 10240), ("l4", 23034), ("rtx-5080", 16302),
    ] {
      #expect(try mib(windowsOrMarketing.0) < windowsOrMarketing.1, "\(windowsOrMarketing.0)")
    }
  }

  @Test func theCatalogHasEightAndTwelveGigabyteCards() throws {
    let gib = Double(1 << 30)
    let capacities = try Self.presets.allGPUs().filter { $0.vendor == .nvidia }.map { Double($0.capacity.bytes) / gib }
    #expect(capacities.filter { (7..<8.5).contains($0) }.count >= 3)
    #expect(capacities.filter { (10.5..<12.5).contains($0) }.count >= 3)
  }

  // MARK: the preset reader refuses facts that contradict each other

  static func gpuPreset(_ fields: String) -> String {
    ##"{"name": "x", "memory_mib": 1000, "unified_memory": false, "source": "test", "## + fields + "}"
  }

  @Test(arguments: [
    (
      #""vendor": "nvidia", "architecture": "Turing", "compute_capability": "7.5", "supports_bf16": true"#,
      "supports_bf16"
    ),
    (
      #""vendor": "nvidia", "architecture": "Ampere", "compute_capability": "8.0", "supports_bf16": false"#,
      "supports_bf16"
    ),
    (
      #""vendor": "nvidia", "architecture": "Ampere", "compute_capability": "eight", "supports_bf16": true"#,
      "compute_capability"
    ),
    (#""vendor": "nvidia", "architecture": "CDNA 3", "compute_capability": "8.0", "supports_bf16": true"#, "CDNA 3"),
    (#""vendor": "intel", "architecture": "Ampere", "compute_capability": "8.0", "supports_bf16": true"#, "vendor"),
    (
      #""vendor": "nvidia", "architecture": "Kepler", "compute_capability": "3.5", "supports_bf16": false"#,
      "architecture"
    ),
  ])
  func contradictoryHardwareFactsAreRefused(_ fields: String, _ named: String) throws {
    let catalog = PresetCatalog(modelTexts: [:], gpuTexts: ["x": Self.gpuPreset(fields)])
    do {
      _ = try catalog.gpu(named: "x")
      Issue.record("accepted \(fields)")
    } catch {
      #expect(error.description.contains(named), "\(error)")
    }
  }
}

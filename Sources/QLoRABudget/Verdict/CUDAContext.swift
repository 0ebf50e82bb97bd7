/// The CUDA context a PyTorch process holds on its GPU beside the caching allocator's segments
/// (nvidia-smi's figure for the process minus `torch.cuda.memory_reserved()`): driver state,
/// per-SM local memory and the kernels loaded so far. With CUDA's lazy module loading
/// (`CUDA_MODULE_LOADING=LAZY`, which PyTorch sets since 1.13 with CUDA 11.7, and CUDA's own
/// default since 12.2) only the kernels used are loaded; with `EAGER` loading it is much larger
/// (666,632,192 B against 287,047,680 B for the same program, pytorch/pytorch#86509). The
/// figures assume lazy loading.
///
/// By architecture, from the one GPU each was measured on. A training process holds more than a
/// bare context: on the T4, 104.875 MiB after CUDA initialised and 140.875 MiB once torch had
/// initialised cuBLAS and run its first kernels (`cuda_context_init_mib` and `cuda_context_mib`
/// of fitcheck-t4): those 36 MiB are added to the published bare contexts.
///
/// Bare contexts grow with the number of SMs: 104.875 MiB on 40 (T4), 256 on 82 (RTX 3090), 426
/// on 142 (RTX 6000 Ada), about (426 - 104.875) / (142 - 40) = 3.148 MiB per SM (per-SM local
/// memory). A GPU with more SMs than the one measured may hold that much more per extra SM: for
/// the largest preset of the architecture, that is the ``uncertainty``, which the verdict adds to
/// its margin.
public struct CUDAContext: Hashable, Sendable {
  /// How the figure was obtained.
  public enum Basis: String, Hashable, Sendable {
    /// In this repository's own GPU runs (Tests/Calibration).
    case measured
    /// In a public report, cited.
    case published
    /// Neither: the largest published figure.
    case assumed
  }

  public let bytes: ByteCount
  /// How much more the real context may be on this GPU; the verdict's margin includes it.
  public let uncertainty: ByteCount
  public let basis: Basis
  /// The figure in words, e.g. `140.875 MiB measured on a Tesla T4`.
  public let formula: String
  public let source: String

  /// What every figure assumes about how CUDA loads kernels, in words.
  static let loadingAssumption =
    "lazy module loading (PyTorch 1.13+ with CUDA 11.7+; EAGER held 666,632,192 B against 287,047,680 B, pytorch/pytorch#86509)"

  /// Off CUDA: no context.
  public static let none = CUDAContext(
    bytes: .zero, uncertainty: .zero, basis: .measured, formula: "no CUDA context", source: "not a CUDA device")

  /// Tesla T4 (Turing, 40 SMs): 140.875 MiB, `cuda_context_mib` of every run in fitcheck-t4's
  /// final-t4-20260921.json (Tests/Calibration/gpu-measured; 141 in the 2026-09-01 rows). The
  /// RTX 2080 Ti has 68 SMs: 3.148 x (68 - 40) = 88.1 MiB, rounded up to 89.
  static let turing = (
    bytes: ByteCount(140_875 * 1_048_576 / 1000), uncertainty: ByteCount.mebibytes(89), gpu: "t4",
    text: "140.875 MiB measured on a Tesla T4", source: "fitcheck-t4 cuda_context_mib (docs/validation.md)"
  )

  /// RTX 3090 (Ampere GA102, 82 SMs): a bare context of 256 MiB (a process that had only created
  /// it, torch 2.7.1+cu128, driver 610.43.03: https://github.com/invoke-ai/InvokeAI/issues/9413),
  /// + 36 = 292 MiB. The A100 has 108 SMs: 3.148 x (108 - 82) = 81.8 MiB, rounded up to 82.
  static let ampere = (
    bytes: ByteCount.mebibytes(292), uncertainty: ByteCount.mebibytes(82), gpu: "rtx-3090",
    text: "256 MiB published for an RTX 3090 + 36 MiB of kernels",
    source: "github.com/invoke-ai/InvokeAI/issues/9413 (torch 2.7.1+cu128)"
  )

  /// RTX 6000 Ada (Ada Lovelace AD102, 142 SMs): nvidia-smi 426 MiB after
  /// `torch.cuda.mem_get_info(0)` and nothing else, PyTorch 2.10.0+cu130
  /// (https://github.com/unslothai/unsloth-zoo/pull/1053), + 36 = 462 MiB. No Ada preset has more
  /// SMs (L40S 142, RTX 4090 128): no uncertainty.
  static let adaLovelace = (
    bytes: ByteCount.mebibytes(462), uncertainty: ByteCount.zero, gpu: "rtx-6000-ada",
    text: "426 MiB published for an RTX 6000 Ada + 36 MiB of kernels",
    source: "github.com/unslothai/unsloth-zoo/pull/1053 (torch 2.10.0+cu130)"
  )

  /// Volta, Hopper, Blackwell and unknown NVIDIA devices: no published figure found; the largest
  /// (Ada's 462 MiB, 142 SMs) is assumed. V100 (80 SMs) and H100/H200 (132) have fewer SMs: no
  /// uncertainty; the RTX 5090 has 170: 3.148 x (170 - 142) = 88.1 MiB, rounded up to 89, for
  /// Blackwell and for a device known only by its capacity.
  static let assumed = (
    bytes: ByteCount.mebibytes(462), uncertainty: ByteCount.mebibytes(89),
    source: "assumption: the largest published context under lazy loading (docs/estimation.md)"
  )

  /// The context of `gpu` (nil: no GPU given, an NVIDIA device assumed).
  public static func of(_ gpu: GPU?) -> CUDAContext {
    guard let gpu else {
      return CUDAContext(
        bytes: assumed.bytes, uncertainty: assumed.uncertainty, basis: .assumed,
        formula: "462 MiB assumed (no GPU given)", source: assumed.source
      ).withUncertaintyNoted()
    }
    if gpu.hasUnifiedMemory || gpu.vendor != .nvidia && gpu.vendor != .unknown { return .none }
    let figures:
      [GPUArchitecture: (bytes: ByteCount, uncertainty: ByteCount, gpu: String, text: String, source: String)] = [
        .turing: turing, .ampere: ampere, .adaLovelace: adaLovelace,
      ]
    guard let architecture = gpu.architecture, let figure = figures[architecture] else {
      let uncertainty = gpu.architecture == .volta || gpu.architecture == .hopper ? ByteCount.zero : assumed.uncertainty
      return CUDAContext(
        bytes: assumed.bytes, uncertainty: uncertainty, basis: .assumed,
        formula: "462 MiB assumed (not measured for \(gpu.architecture?.rawValue ?? "this GPU"))",
        source: assumed.source
      )
      .withUncertaintyNoted()
    }
    let measuredHere = gpu.name == figure.gpu
    return CUDAContext(
      bytes: figure.bytes, uncertainty: measuredHere ? .zero : figure.uncertainty,
      basis: architecture == .turing ? .measured : .published,
      formula: figure.text + (measuredHere ? "" : " (\(architecture.rawValue))"), source: figure.source
    )
    .withUncertaintyNoted()
  }

  /// The formula with the uncertainty, when there is one, in words.
  private func withUncertaintyNoted() -> CUDAContext {
    guard uncertainty > .zero else { return self }
    return CUDAContext(
      bytes: bytes, uncertainty: uncertainty, basis: basis,
      formula: formula + "; up to \(uncertainty.formatted(.binary)) more with more SMs, in the verdict's margin",
      source: source)
  }
}

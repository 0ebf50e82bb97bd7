/// What the GPU process holds beyond tensors: the CUDA context and the caching allocator's
/// reserve over what tensors use. Each constant names where it comes from.
enum RuntimeOverhead {
  /// The CUDA context measured on a Tesla T4 (sm_75, Turing) after torch initialised cuBLAS:
  /// 140.875 MiB (`cuda_context_mib` of every run in fitcheck-t4's final-t4-20260921.json,
  /// Tests/Calibration/gpu-measured; 141 in the 2026-09-01 notebook rows). The
  /// cuBLAS workspaces are not in it: the caching allocator hands them out (``cublasWorkspaces(for:)``).
  static let turingContext = ByteCount(140_875 * 1_048_576 / 1000)

  /// Other NVIDIA GPUs: not measured in the calibration data. An assumption: torch 2.x with
  /// CUDA 12 lazy module loading, whose context is larger on newer architectures (more SMs,
  /// bigger kernels images); 400 MiB is above the T4's measured 141 MiB to stay on the safe side.
  static let assumedNvidiaContext = ByteCount.mebibytes(400)

  /// The CUDA context for a GPU (nil: unknown device).
  static func context(for gpu: GPU?) -> (bytes: ByteCount, formula: String, source: String) {
    guard let gpu else {
      return (assumedNvidiaContext, "400 MiB (no GPU given: the NVIDIA assumption)", "assumption, see docs/estimation.md")
    }
    if gpu.hasUnifiedMemory || gpu.vendor != .nvidia && gpu.vendor != .unknown {
      return (.zero, "no CUDA context on \(gpu.displayName)", "not a CUDA device")
    }
    if gpu.architecture == .turing {
      return (turingContext, "140.875 MiB measured on a Tesla T4", "fitcheck-t4 cuda_context_mib (docs/validation.md)")
    }
    return (assumedNvidiaContext, "400 MiB assumed (not measured for \(gpu.architecture?.rawValue ?? "this GPU"))",
      "assumption: torch 2.x + CUDA 12 lazy loading; only the T4 is measured (docs/validation.md)")
  }

  /// The cuBLAS workspace of one handle and stream, allocated by the caching allocator (so it
  /// counts in `torch.cuda.memory_allocated`): PyTorch `CublasHandlePool.cpp`
  /// `getChosenWorkspaceSize`, default `:4096:2:16:8` = 2 x 4,096 KiB + 8 x 16 KiB before Hopper,
  /// 4,096 KiB x 8 = 32 MiB on sm90 (Hopper; the estimate also uses it for Blackwell and for an
  /// unknown GPU, the larger of the two).
  static let preHopperWorkspace = ByteCount(2 * 4_096 * 1_024 + 8 * 16 * 1_024)
  static let hopperWorkspace = ByteCount.mebibytes(32)

  /// Two workspaces: the forward runs on the Python thread's handle, backward on the autograd
  /// engine's device thread with its own handle (one workspace per handle and stream). Zero
  /// without CUDA.
  static func cublasWorkspaces(for gpu: GPU?, platform: KernelPlatform) -> ByteCount {
    guard platform == .cuda else { return .zero }
    if let gpu, gpu.hasUnifiedMemory || gpu.vendor != .nvidia && gpu.vendor != .unknown { return .zero }
    let older: Set<GPUArchitecture> = [.turing, .volta, .ampere, .adaLovelace]
    let workspace = gpu?.architecture.map { older.contains($0) } == true ? preHopperWorkspace : hopperWorkspace
    return 2 * workspace
  }
}

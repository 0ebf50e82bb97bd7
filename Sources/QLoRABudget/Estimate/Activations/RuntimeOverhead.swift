/// What the GPU process holds beyond tensors: the CUDA context and the caching allocator's
/// reserve over what tensors use. Each constant names where it comes from.
enum RuntimeOverhead {
  /// The CUDA context measured on a Tesla T4 (sm_75, Turing) after torch initialised cuBLAS:
  /// 140.875 MiB (`cuda_context_mib` of every run in
  /// Tests/Calibration/gpu-measured/fitcheck-t4/final-t4-20260921.json; 141 in the
  /// 2026-09-01 notebook rows). It includes the cuBLAS handle and workspace.
  static let turingContext = ByteCount(140_875 * 1_048_576 / 1000)

  /// Other NVIDIA GPUs: not measured in Tests/Calibration/. An assumption: torch 2.x with
  /// CUDA 12 lazy module loading, whose context is larger on newer architectures (more SMs,
  /// bigger kernels images); 400 MiB is above the T4's measured 141 MiB to stay on the safe side.
  static let assumedNvidiaContext = ByteCount.mebibytes(400)

  /// The caching allocator's reserve over allocated at the peak: `peak_reserved / peak_allocated
  /// - 1`, median over the 22 fitcheck-t4 runs (final-t4-20260921.json and
  /// t4-qlora-2026-09-01.json): 0.126 (range 0.057 to 0.31). Fitted to that data; the allocator
  /// rounds large blocks up to 2 MiB segments and keeps freed blocks cached for reuse.
  static let reserveFraction = 0.126

  /// The CUDA context for a GPU (nil: unknown device).
  static func context(for gpu: GPU?) -> (bytes: ByteCount, formula: String, source: String) {
    guard let gpu else {
      return (assumedNvidiaContext, "400 MiB (no GPU given: the NVIDIA assumption)", "assumption, see docs/estimation.md")
    }
    if gpu.hasUnifiedMemory || gpu.vendor != .nvidia && gpu.vendor != .unknown {
      return (.zero, "no CUDA context on \(gpu.displayName)", "not a CUDA device")
    }
    if gpu.architecture == .turing {
      return (turingContext, "140.875 MiB measured on a Tesla T4", "fitcheck-t4 cuda_context_mib (Tests/Calibration/)")
    }
    return (assumedNvidiaContext, "400 MiB assumed (not measured for \(gpu.architecture?.rawValue ?? "this GPU"))",
      "assumption: torch 2.x + CUDA 12 lazy loading; only the T4 is measured in Tests/Calibration/")
  }

  /// The allocator's reserve over `allocated`.
  static func reserve(over allocated: ByteCount) -> ByteCount {
    guard !allocated.isOverflow else { return .overflow }
    return ByteCount(Int64((Double(allocated.bytes) * reserveFraction).rounded(.up)))
  }
}

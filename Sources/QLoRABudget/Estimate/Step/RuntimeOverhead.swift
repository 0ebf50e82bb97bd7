/// What the GPU process holds beyond tensors: the CUDA context (``CUDAContext``) and the cuBLAS
/// workspaces. Each constant names where it comes from.
enum RuntimeOverhead {
  /// The CUDA context for a GPU (nil: unknown device), by architecture (``CUDAContext``); its
  /// source names the loading mode every figure assumes, the CUDA and PyTorch versions that
  /// set it.
  static func context(for gpu: GPU?) -> (bytes: ByteCount, formula: String, source: String) {
    let context = CUDAContext.of(gpu)
    guard context.bytes > .zero else { return (context.bytes, context.formula, context.source) }
    return (context.bytes, context.formula, context.source + "; " + CUDAContext.loadingAssumption)
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

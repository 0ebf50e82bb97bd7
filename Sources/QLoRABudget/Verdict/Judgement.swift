/// An estimate judged on its GPU: the verdict with what it was judged against, so a renderer
/// shows the margin the verdict used instead of working it out again.
public struct Judgement: Hashable, Sendable {
  public let verdict: Verdict
  /// The margin the verdict applied.
  public let margin: VerdictMargin
  /// The margin in bytes: how far above the process peak a real run may go (the relative
  /// margin's bytes plus ``contextUncertainty``).
  public let marginBytes: ByteCount
  /// What the CUDA context may add on this GPU beyond its figure (``CUDAContext/uncertainty``),
  /// part of ``marginBytes``.
  public let contextUncertainty: ByteCount
  /// The usable capacity minus the process peak (negative when over).
  public let headroom: Int64
  /// When the run does not fit as simulated but completes if the allocator releases its cached
  /// segments on out-of-memory retries: the process peak it then reaches
  /// (``MemoryEstimate/completingProcessPeak``). Such a run is `tight`, never `fits`: no
  /// boundary measurement validates it yet.
  public let completingProcessPeak: ByteCount?
}

extension MemoryEstimate {
  /// ``verdict`` with its margin and headroom; nil without a GPU.
  public var judgement: Judgement? {
    guard let verdict, let headroom else { return nil }
    let margin = VerdictMargin.of(setup)
    return Judgement(
      verdict: verdict, margin: margin,
      marginBytes: margin.upperBound(of: peak.process) - peak.process + contextUncertainty,
      contextUncertainty: contextUncertainty, headroom: headroom, completingProcessPeak: completingProcessPeak)
  }

  /// ``CUDAContext/uncertainty`` of the estimate's GPU on CUDA; zero on the CPU platform or without a GPU.
  public var contextUncertainty: ByteCount {
    gpu.map { Self.contextUncertainty(on: $0, setup.platform) } ?? .zero
  }

  /// ``contextUncertainty`` of an estimate on `gpu` and `platform`.
  static func contextUncertainty(on gpu: GPU, _ platform: KernelPlatform) -> ByteCount {
    platform == .cuda ? CUDAContext.of(gpu).uncertainty : .zero
  }
}

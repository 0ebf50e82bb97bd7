/// Whether a run fits a GPU: the one definition every command reads (`fit`, `estimate`,
/// `solve`, `table`, `compare`, the charts and the JSON).
///
/// | verdict | when |
/// | --- | --- |
/// | `doesNotFit` | the estimated peak exceeds the usable capacity, and the run does not complete within it even with the allocator's cache released |
/// | `tight` | the estimated peak is at most the capacity, but the peak plus the ``VerdictMargin`` (and the allowance) is not; or the estimated peak exceeds the capacity but the run completes within it once the allocator releases its cache |
/// | `fits` | the estimated peak plus the margin and the allowance is at most the capacity |
///
/// The margin is one-sided: it is the largest *underestimate* the validation data shows, so a
/// run judged `fits` has room even if the estimate errs as badly as it ever has on real runs;
/// setups under FSDP or DeepSpeed have their own (``VerdictMargin/of(_:)``).
/// The allowance is what a figure the runs did not measure may add, in bytes: the CUDA context's
/// uncertainty on a GPU other than the one it was measured on (``CUDAContext/uncertainty``).
///
/// A run whose simulated peak exceeds the capacity is not necessarily out of memory: when an
/// allocation fails, PyTorch's caching allocator frees its cached segments and retries
/// (`release_cached_blocks`), so the run completes if its tensors fit without that cache (the
/// *completing peak*). Real runs have done so (the published fsdp_qlora runs on an RTX 4090
/// whose simulated reserve exceeds 24 GB), so such a run is never `doesNotFit`; no boundary
/// measurement validates how close to the capacity that holds, so it is never `fits` either.
public enum Verdict: String, CaseIterable, Comparable, Hashable, Sendable {
  case fits
  case tight
  case doesNotFit = "does_not_fit"

  /// Judges `peak` against `capacity` with `margin` and `allowance`; `completingPeak` is the
  /// process peak the run reaches when the allocator releases its cache to complete (nil when it
  /// does not complete within the capacity), read only when `peak` exceeds the capacity.
  public init(
    peak: ByteCount, capacity: ByteCount, margin: VerdictMargin, allowance: ByteCount = .zero,
    completingPeak: @autoclosure () -> ByteCount? = nil
  ) {
    if peak.isOverflow || peak > capacity {
      let completes = !peak.isOverflow && completingPeak().map { !$0.isOverflow && $0 <= capacity } == true
      self = completes ? .tight : .doesNotFit
    } else if margin.upperBound(of: peak) + allowance > capacity {
      self = .tight
    } else {
      self = .fits
    }
  }

  /// Whether this verdict is accepted by a planner that accepts up to `worst`
  /// (`.fits`: only runs that fit; `.tight`: runs that fit or may fit).
  public func isAccepted(upTo worst: Verdict) -> Bool { self <= worst }

  /// The verdict in words, as every command prints it: `fits`, `tight`, `does not fit`.
  public var label: String {
    switch self {
    case .fits: return "fits"
    case .tight: return "tight"
    case .doesNotFit: return "does not fit"
    }
  }

  /// Orders from best to worst: fits < tight < doesNotFit.
  public static func < (a: Verdict, b: Verdict) -> Bool { a.rank < b.rank }

  private var rank: Int {
    switch self {
    case .fits: return 0
    case .tight: return 1
    case .doesNotFit: return 2
    }
  }
}

/// How much a real run's peak may exceed the estimate: a relative margin derived from the
/// validation data, and the statistic it is.
public struct VerdictMargin: Hashable, Sendable {
  /// The relative margin, e.g. 0.1013 for 10.13% above the estimated peak.
  public let relative: Double
  /// Which statistic of which data the margin is, in words.
  public let statistic: String

  public init(relative: Double, statistic: String) {
    self.relative = relative.isFinite ? max(0, relative) : 0
    self.statistic = statistic
  }

  /// The margin of every verdict on `setup`: ``measuredUnderEngine`` when it runs under FSDP or
  /// DeepSpeed (``TrainingSetup/usesEngine``; the published runs under them show larger
  /// underestimates than runs on one GPU), else ``measured``. Both are generated from the
  /// validation data (MeasuredMargin.swift, docs/validation.md).
  public static func of(_ setup: TrainingSetup) -> VerdictMargin {
    setup.usesEngine ? .measuredUnderEngine : .measured
  }

  /// The estimate plus the margin, rounded up to a whole byte.
  public func upperBound(of peak: ByteCount) -> ByteCount {
    guard !peak.isOverflow else { return .overflow }
    let bound = (Double(peak.bytes) * (1 + relative)).rounded(.up)
    return bound >= Double(Int64.max) ? .overflow : ByteCount(Int64(bound))
  }
}

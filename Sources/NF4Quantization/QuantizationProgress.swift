import Foundation

/// How far a checkpoint quantization has come, reported after each tensor.
public struct QuantizationProgress: Hashable, Sendable {
  public let tensorsDone: Int
  public let tensorCount: Int
  /// Input bytes processed and in total.
  public let bytesDone: Int64
  public let totalBytes: Int64
  /// Seconds since the start.
  public let elapsedSeconds: Double

  /// Input bytes per second so far.
  public var bytesPerSecond: Double { elapsedSeconds > 0 ? Double(bytesDone) / elapsedSeconds : 0 }
  /// Seconds left at the rate so far; nil before any byte is done.
  public var remainingSeconds: Double? {
    bytesDone > 0 ? Double(totalBytes - bytesDone) / bytesPerSecond : nil
  }
}

/// Counts tensors and bytes as they are done.
struct ProgressTracker {
  let tensorCount: Int
  let totalBytes: Int64
  private var tensorsDone = 0
  private var bytesDone: Int64 = 0
  private let start = DispatchTime.now().uptimeNanoseconds

  init(tensorCount: Int, totalBytes: Int64) {
    self.tensorCount = tensorCount
    self.totalBytes = totalBytes
  }

  mutating func advance(bytes: Int64) {
    tensorsDone += 1
    bytesDone += bytes
  }

  var current: QuantizationProgress {
    QuantizationProgress(
      tensorsDone: tensorsDone, tensorCount: tensorCount, bytesDone: bytesDone, totalBytes: totalBytes,
      elapsedSeconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
  }
}

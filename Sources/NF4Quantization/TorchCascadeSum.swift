/// The float32 sum PyTorch's CPU `Tensor.sum()` computes for a contiguous 1-D tensor, in the
/// same order of additions, so `mean(absmax)` (the double-quantization offset) is bit-identical.
///
/// The order (ATen `native/cpu/SumKernel.cpp`, `vectorized_inner_sum` with AVX2's 8-lane
/// `Vectorized<float>`): the elements form `n / 8` vectors of 8 lanes, summed by `row_sum`:
/// four interleaved accumulators (vector `4i + k` goes to accumulator `k`), each a cascade of 4
/// levels that flushes level `j` into `j + 1` every `2^(j * p)` vectors, with
/// `p = max(4, ceilLog2(n / 32) / 4)`; the leftover vectors go to accumulator 0, the
/// accumulators are added 0 + 1 + 2 + 3. The leftover `n % 8` scalars are summed in order, then
/// the 8 lanes are added to that one by one.
///
/// This reproduces the offsets in all eight double-quantized golden files (the 16-lane AVX-512
/// order misses three of them). PyTorch splits a reduction of more than 32,768 elements across
/// threads, so for more than 32,768 blocks its last bit can depend on the thread count; the
/// offset a checkpoint stores is the one that counts when dequantizing.
enum TorchCascadeSum {
  static let lanes = 8
  static let interleave = 4
  static let levels = 4

  static func sum(_ values: UnsafeBufferPointer<Float>) -> Float {
    let vectorCount = values.count / lanes
    let vectorSum = rowSum(values, vectorCount: vectorCount)
    var total: Float = 0
    for k in (vectorCount * lanes)..<values.count { total += values[k] }
    for lane in 0..<lanes { total += vectorSum[lane] }
    return total
  }

  /// `row_sum` over `vectorCount` 8-lane vectors.
  private static func rowSum(_ values: UnsafeBufferPointer<Float>, vectorCount: Int) -> SIMD8<Float> {
    func vector(_ index: Int) -> SIMD8<Float> {
      SIMD8<Float>(values[(index * lanes)..<(index * lanes + lanes)])
    }
    let rows = vectorCount / interleave
    var partial = multiRowSum(rows: rows) { row, k in vector(row * interleave + k) }
    for index in (rows * interleave)..<vectorCount { partial[0] += vector(index) }
    for k in 1..<interleave { partial[0] += partial[k] }
    return partial[0]
  }

  /// `multi_row_sum` with 4 interleaved rows and 4 cascade levels.
  private static func multiRowSum(
    rows size: Int, load: (Int, Int) -> SIMD8<Float>
  ) -> [SIMD8<Float>] {
    let levelPower = max(4, ceilLog2(size) / levels)
    let levelStep = 1 << levelPower
    let levelMask = levelStep - 1
    var accumulator = [[SIMD8<Float>]](
      repeating: [SIMD8<Float>](repeating: .zero, count: interleave), count: levels)
    var i = 0
    while i + levelStep <= size {
      for _ in 0..<levelStep {
        for k in 0..<interleave { accumulator[0][k] += load(i, k) }
        i += 1
      }
      for j in 1..<levels {
        for k in 0..<interleave {
          accumulator[j][k] += accumulator[j - 1][k]
          accumulator[j - 1][k] = .zero
        }
        if i & (levelMask << (j * levelPower)) != 0 { break }
      }
    }
    while i < size {
      for k in 0..<interleave { accumulator[0][k] += load(i, k) }
      i += 1
    }
    for j in 1..<levels {
      for k in 0..<interleave { accumulator[0][k] += accumulator[j][k] }
    }
    return accumulator[0]
  }

  /// ATen's `CeilLog2`: 1 for x <= 2, else the bit length of x - 1.
  private static func ceilLog2(_ x: Int) -> Int {
    x <= 2 ? 1 : Int.bitWidth - (x - 1).leadingZeroBitCount
  }
}

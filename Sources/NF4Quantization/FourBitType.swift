/// The two 4-bit data types of bitsandbytes: NormalFloat (NF4) and a 4-bit float (FP4).
///
/// A code is an index 0...15 into ``codebook``; a block of values is stored as codes plus
/// one scale (the block's absmax), and code `q` in a block with scale `a` stands for
/// `codebook[q] * a`.
///
/// | code | NF4 | FP4 |
/// | ---: | ---: | ---: |
/// | 0 | -1.0 | 0.0 |
/// | 1 | -0.6961928 | 0.0052083335 |
/// | 2 | -0.52507305 | 0.6666667 |
/// | 3 | -0.3949175 | 1.0 |
/// | 4 | -0.28444138 | 0.33333334 |
/// | 5 | -0.18477343 | 0.5 |
/// | 6 | -0.091050036 | 0.16666667 |
/// | 7 | 0.0 | 0.25 |
/// | 8 | 0.0795803 | 0.0 |
/// | 9 | 0.1609302 | -0.0052083335 |
/// | 10 | 0.2461123 | -0.6666667 |
/// | 11 | 0.33791524 | -1.0 |
/// | 12 | 0.44070983 | -0.33333334 |
/// | 13 | 0.562617 | -0.5 |
/// | 14 | 0.72295684 | -0.16666667 |
/// | 15 | 1.0 | -0.25 |
///
/// Sources: QLoRA paper (arXiv 2305.14314) appendix E for NF4; bitsandbytes 0.50.2
/// `backends/utils.py` (`_NF4_QUANT_TABLE`, `_FP4_QUANT_TABLE`); checked bit for bit against the
/// `code` arrays of the bitsandbytes golden vectors (Tests/NF4QuantizationTests/Fixtures/bnb-4bit).
public enum FourBitType: String, CaseIterable, Hashable, Sendable {
  /// 4-bit NormalFloat: quantiles of N(0, 1) scaled to [-1, 1], with an exact zero (code 7).
  case nf4
  /// bitsandbytes' 4-bit float (1 sign bit, 2 exponent bits, 1 mantissa bit, rescaled).
  case fp4

  /// The 16 values a code stands for, in code order (float32).
  public var codebook: [Float] {
    switch self {
    case .nf4: Self.nf4Codebook
    case .fp4: Self.fp4Codebook
    }
  }

  /// The codes in increasing order of value; ties (FP4's two zeros) keep code order.
  ///
  /// bitsandbytes sorts the codebook with `torch.argsort`, whose CPU sort of 16 elements is an
  /// insertion sort, so equal values keep their code order: FP4's `0.0` (code 0) comes before
  /// its second `0.0` (code 8).
  public var codesByValue: [UInt8] {
    switch self {
    case .nf4: Self.nf4CodesByValue
    case .fp4: Self.fp4CodesByValue
    }
  }

  /// The 15 decision thresholds: `(v[k] + v[k + 1]) / 2` in float32 over the sorted values `v`.
  ///
  /// A value `x` (already divided by the absmax) falls in bucket
  /// `b = count of thresholds t with !(t >= x)`, so a value exactly on a threshold goes to the
  /// lower bucket and NaN goes to the top bucket (torch.bucketize with `right=False`); the code is
  /// `codesByValue[b]`.
  public var thresholds: [Float] {
    switch self {
    case .nf4: Self.nf4Thresholds
    case .fp4: Self.fp4Thresholds
    }
  }

  /// The code values of both nibbles of every byte: `(codebook[b >> 4], codebook[b & 15])`.
  var codePairs: [SIMD2<Float>] {
    switch self {
    case .nf4: Self.nf4CodePairs
    case .fp4: Self.fp4CodePairs
    }
  }

  static let nf4CodePairs = pairs(nf4Codebook)
  static let fp4CodePairs = pairs(fp4Codebook)

  private static func pairs(_ book: [Float]) -> [SIMD2<Float>] {
    (0..<256).map { SIMD2(book[$0 >> 4], book[$0 & 15]) }
  }

  static let nf4Codebook: [Float] = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
  ]

  static let fp4Codebook: [Float] = [
    0.0, 0.005208333333, 0.66666667, 1.0, 0.33333333, 0.5, 0.16666667, 0.25,
    0.0, -0.005208333333, -0.66666667, -1.0, -0.33333333, -0.5, -0.16666667, -0.25,
  ]

  static let nf4CodesByValue: [UInt8] = sortedCodes(nf4Codebook)
  static let fp4CodesByValue: [UInt8] = sortedCodes(fp4Codebook)
  static let nf4Thresholds: [Float] = midpoints(nf4Codebook, nf4CodesByValue)
  static let fp4Thresholds: [Float] = midpoints(fp4Codebook, fp4CodesByValue)

  /// A stable sort of the code indices by value.
  private static func sortedCodes(_ book: [Float]) -> [UInt8] {
    book.indices.sorted { book[$0] < book[$1] || (book[$0] == book[$1] && $0 < $1) }
      .map { UInt8($0) }
  }

  private static func midpoints(_ book: [Float], _ order: [UInt8]) -> [Float] {
    (0..<15).map { (book[Int(order[$0])] + book[Int(order[$0 + 1])]) / 2 }
  }
}

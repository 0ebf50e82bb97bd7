/// torchao 0.1's `NF4Tensor` of one weight as the GPU's allocator sees it: every tensor an op of
/// `to_nf4` or `get_original_weight` outputs, in op order, freed when Python drops it
/// (`torchao/dtypes/nf4tensor.py` @ff288954, v0.1, 2024-04-04: the version torchtune 0.1 pinned).
///
/// For a bf16 weight of `n` elements (`d` = 2 bytes), `nb = n/64` blocks:
/// - `NF4Tensor.from_tensor`: the code table (`16 d`); `double_quantize_scalers`:
///   `get_block_absmax` (`blocks.abs()`, `n d`; `.max(dim=1)`: values `nb d`, int64 indices
///   `8 nb`), `scalers_1.mean()` (`d`, kept as `scaler_mean`), `scalers_1 - mean` (`nb d`), the
///   absmax of the scalers per 256, `2 * scaler_absmax` over its expanded view (`nb d`, realized)
///   and `256 / (...)` (`nb d`, kept: `quantization_factor[:, 0]` is a view of it),
///   `* quantization_factor`, `.round()`, `.clamp()` (`nb d` each), `.to(torch.int8)` (`nb`,
///   kept); `convert_to_norm_float_weight`: the block absmax again, `blocks / scales` (`n d`),
///   `quantize_tensor_nearest` on the whole tensor at once: `value.unsqueeze(-1) - nf4` and its
///   `.abs()` (`16 n d` each: the difference to all 16 code values), `.min(dim=-1)` (values
///   `n d`, int64 indices `8 n`), then `[::2] << 4` and `| [1::2]` (`4 n` each, int64) and
///   `.to(torch.uint8)` (`n/2`, kept). The peak is `2 n d + 32 n d + ...` past the weight: about
///   34 times its bf16 bytes. torchao 0.2 quantizes in chunks of 1 Mi elements (#196, 2024-05-01).
/// - `get_original_weight` (what torchtune's `clone` dequantizes): `(quantized_data >> 4)` and
///   `& 0b1111` (`n/2` each) cast to int64 (`4 n` each), the code looked up (`n/2 d` each), the
///   scalers dequantized (`nb d`, twice), each half's scalers expanded and flattened (`n/2 d`,
///   realized) and multiplied (`n/2 d`), then `torch.stack` (`n d`: the weight).
struct TorchAO01Quantization {
  let elements: Int64
  /// The weight's dtype (torchao 0.1 asserts bf16).
  let dtype: TensorDtype
  let blockSize: Int64

  private var width: Int64 { dtype.byteWidth }

  /// The buffers an `NF4Tensor` keeps (torchao 0.1's factor storage).
  var buffers: TorchAONF4Buffers {
    TorchAONF4Buffers(elementCount: elements, blockSize: blockSize, dtype: dtype, keepsFactorPerScaler: true)
  }

  /// The kept buffers in the order of the `NF4Tensor`'s `__dict__` (set in `__init__`), which is
  /// the order a deep copy copies them in: scalers, factors, mean, packed data, code.
  var keptSizes: [ByteCount] {
    let kept = buffers
    return [kept.quantizedScalers, kept.quantizationFactor, kept.scalerMean, kept.quantizedData, kept.code]
  }

  private var blocks: Int64 { elements / blockSize + (elements % blockSize == 0 ? 0 : 1) }
  private var scalerGroups: Int64 {
    blocks / TorchAONF4Buffers.scalerBlockSize + (blocks % TorchAONF4Buffers.scalerBlockSize == 0 ? 0 : 1)
  }
  private var halves: Int64 { elements / 2 + elements % 2 }

  /// `to_nf4` of a weight already on the GPU: the kept buffers' ids in ``keptSizes``' order.
  func quantize(into schedule: inout AllocationSchedule) -> [Int32] {
    let d = width
    func temporary(_ count: Int64, _ each: Int64) -> Int32 {
      schedule.allocate(.elements(count, bytesEach: each), .quantizationTemporary)
    }
    let kept = buffers
    let code = schedule.allocate(kept.code, .quantizedWeight)
    // double_quantize_scalers
    let scalers = blockAbsmax(of: elements, groups: blocks, into: &schedule)
    let mean = schedule.allocate(kept.scalerMean, .quantizedWeight)
    let centred = temporary(blocks, d)
    schedule.free(scalers)
    let scalerAbsmax = blockAbsmax(of: blocks, groups: scalerGroups, into: &schedule)
    let doubled = temporary(scalerGroups * TorchAONF4Buffers.scalerBlockSize, d)
    let factors = schedule.allocate(kept.quantizationFactor, .quantizedWeight)
    schedule.free(doubled)
    let multiplied = temporary(blocks, d)
    let rounded = temporary(blocks, d)
    schedule.free(multiplied)
    let clamped = temporary(blocks, d)
    schedule.free(rounded)
    let quantizedScalers = schedule.allocate(kept.quantizedScalers, .quantizedWeight)
    schedule.free([clamped, centred, scalerAbsmax])
    // convert_to_norm_float_weight
    let scales = blockAbsmax(of: elements, groups: blocks, into: &schedule)
    let scaled = temporary(elements, d)
    let difference = temporary(16 * elements, d)
    let absolute = temporary(16 * elements, d)
    schedule.free(difference)
    let minimum = temporary(elements, d)
    let nearest = temporary(elements, 8)
    schedule.free([minimum, absolute])
    let shifted = temporary(halves, 8)
    let combined = temporary(halves, 8)
    schedule.free(shifted)
    let packed = schedule.allocate(kept.quantizedData, .quantizedWeight)
    schedule.free([scales, scaled, nearest, combined])
    return [quantizedScalers, factors, mean, packed, code]
  }

  /// `get_original_weight`: the id of the dequantized weight (`n d`).
  func dequantize(into schedule: inout AllocationSchedule) -> Int32 {
    let d = width
    func temporary(_ count: Int64, _ each: Int64) -> Int32 {
      schedule.allocate(.elements(count, bytesEach: each), .quantizationTemporary)
    }
    var halvesKept: [Int32] = []
    for _ in 0..<2 {
      let nibbles = temporary(halves, 1)
      halvesKept.append(temporary(halves, 8))
      schedule.free(nibbles)
    }
    halvesKept += [temporary(halves, d), temporary(halves, d)]
    let divided = temporary(blocks, d)
    let dequantizedScalers = temporary(blocks, d)
    schedule.free(divided)
    halvesKept.append(dequantizedScalers)
    for _ in 0..<2 {
      let expanded = temporary(halves, d)
      halvesKept.append(temporary(halves, d))
      schedule.free(expanded)
    }
    let weight = schedule.allocate(.elements(elements, bytesEach: d), .stagingCopy)
    schedule.free(halvesKept)
    return weight
  }

  /// `get_block_absmax`: `abs()` of `count` elements, `.max(dim=1)` over `groups` groups; the
  /// id of the kept values.
  private func blockAbsmax(of count: Int64, groups: Int64, into schedule: inout AllocationSchedule) -> Int32 {
    let absolute = schedule.allocate(.elements(count, bytesEach: width), .quantizationTemporary)
    let values = schedule.allocate(.elements(groups, bytesEach: width), .quantizationTemporary)
    let indices = schedule.allocate(.elements(groups, bytesEach: 8), .quantizationTemporary)
    schedule.free([absolute, indices])
    return values
  }
}

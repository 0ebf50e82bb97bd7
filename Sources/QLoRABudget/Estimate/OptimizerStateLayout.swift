/// Where an optimizer's state lives, tensor group by tensor group.
///
/// Per tensor of `n` elements (bitsandbytes `Optimizer2State.init_state`):
/// - 32-bit Adam: two moments; torch.optim.AdamW makes them with `zeros_like(param)` (the
///   parameter's dtype: `4n` for bf16 parameters, `8n` for fp32), bitsandbytes' 32-bit and
///   paged optimizers always in fp32 (`8n`). SGD momentum: one buffer of the same kind.
/// - 8-bit Adam, `n >= 4096`: two uint8 moments (`2n`) + two fp32 absmax per 256-element block
///   (`8 * ceil(n/256)`); `n < 4096` (`min_8bit_size`) keeps 32-bit state (`8n`). The two
///   256-entry fp32 quantization maps (2,048 bytes) are shared by all tensors.
/// - Paged variants: a moment buffer of a tensor with `n >= 100,000` is allocated with
///   cudaMallocManaged (`F.get_paged`) and counted as host memory; absmax stays on the GPU.
struct OptimizerStateLayout {
  static let source =
    "bitsandbytes optim/optimizer.py Optimizer2State.init_state (min_8bit_size=4096, block 256) and "
    + "get_state_buffer (paged only when numel >= 1e5); torch.optim.AdamW (two moments)"
  static let eightBitMinimumElements: Int64 = 4096
  static let pagingMinimumElements: Int64 = 100_000
  static let eightBitBlockSize: Int64 = 256
  static let quantizationMapBytes: Int64 = 2 * 256 * 4

  private(set) var gpu: ByteCount = .zero
  private(set) var paged: ByteCount = .zero
  private var eightBitTensors: Int64 = 0
  private var thirtyTwoBitTensors: Int64 = 0
  private var pagedTensors: Int64 = 0
  let optimizer: Optimizer

  init(tensors: [TrainableTensorGroup], optimizer: Optimizer) {
    self.optimizer = optimizer
    for group in tensors { add(group) }
    if eightBitTensors > 0 { gpu = gpu + ByteCount(Self.quantizationMapBytes) }
  }

  private mutating func add(_ group: TrainableTensorGroup) {
    let n = group.elementsPerTensor
    let count = group.tensorCount
    guard optimizer.stateCount > 0 else { return }
    let isEightBit = optimizer.isEightBit && n >= Self.eightBitMinimumElements
    let momentWidth: Int64 = isEightBit ? 1 : optimizer.isBitsandbytes ? 4 : group.dtype.byteWidth
    let moments: ByteCount = optimizer.stateCount * ByteCount.elements(n, bytesEach: momentWidth)
    let isPaged = optimizer.isPaged && n >= Self.pagingMinimumElements
    if isEightBit {
      eightBitTensors += count
      let blocks = n / Self.eightBitBlockSize + (n % Self.eightBitBlockSize == 0 ? 0 : 1)
      gpu = gpu + count * ByteCount.elements(2 * blocks, bytesEach: 4)
    } else {
      thirtyTwoBitTensors += count
    }
    if isPaged {
      pagedTensors += count
      paged = paged + count * moments
    } else {
      gpu = gpu + count * moments
    }
  }

  var gpuFormula: String {
    switch optimizer {
    case .sgd: return "SGD without momentum keeps no state"
    case .sgdMomentum: return "one momentum buffer in the parameter's dtype (zeros_like)"
    case .adamw: return "two moments in the parameter's dtype (torch zeros_like): 2 x its width per trainable param"
    case .pagedAdamw:
      return "two fp32 moments (bitsandbytes 32-bit state): 8 B per trainable param"
        + (optimizer.isPaged
          ? " of \(NumberText.grouped(thirtyTwoBitTensors - pagedTensors)) tensors under 100,000 elements" : "")
    case .adamw8bit, .pagedAdamw8bit:
      return "\(NumberText.grouped(eightBitTensors)) tensors of >= 4096 elements: 2 B/param"
        + (optimizer.isPaged ? " (unpaged ones)" : "") + " + 8 B per 256-element block (absmax); "
        + "\(NumberText.grouped(thirtyTwoBitTensors)) smaller tensors: 8 B/param; + 2,048 B quantization maps"
    }
  }

  var pagedFormula: String {
    "\(NumberText.grouped(pagedTensors)) tensors of >= 100,000 elements: moments in cudaMallocManaged (paged) memory, "
      + (optimizer.isEightBit ? "2 B/param" : "8 B/param")
  }
}

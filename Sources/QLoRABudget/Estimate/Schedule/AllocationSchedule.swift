/// The run as the GPU's caching allocator sees it: an ordered stream of allocations and frees
/// with exact byte sizes, from loading through a warm-up step to the measured step. The
/// estimator's walk of the step (``StepPeak``) writes it, so the one schedule is the source of
/// both the allocated figures (its running sum) and the reserved ones (``CachingAllocator``
/// replaying it).
package struct AllocationSchedule: Sendable {
  /// One step of the stream.
  public enum Event: Hashable, Sendable {
    /// A tensor of `bytes` is allocated; `id` names it for its free.
    case allocate(id: Int32, bytes: Int64, tensor: ScheduledTensor)
    case free(id: Int32)
    /// The stream enters a phase.
    case phase(SchedulePhase)
  }

  public private(set) var events: [Event] = []
  private var nextID: Int32 = 0
  /// Every allocation so far with a whole extra segment's rounding and address gap (22 MiB)
  /// each, while ``fitsTheAllocatorArithmetic`` holds.
  private var allocatedWithGaps: Int64 = 0
  /// A cheap mix of every event's size and kind so far, for ``ReplayMemo`` (not a hash of
  /// quality: equal fingerprints are confirmed by comparing the events). Mixed in as the events
  /// are added, not by a pass over them for each estimate.
  private(set) var fingerprint = 0
  /// One more than the largest id: a replay indexes its live blocks by id in an array this long.
  var idLimit: Int { Int(nextID) + 1 }

  /// An empty schedule with room for the events of a run of `layers` layers training the
  /// tensors of `trainable`, so that building it does not copy the events each time the array
  /// doubles. Over the preset models under five setups (`AllocationScheduleTests`) a schedule
  /// holds at most 26 events per trainable tensor plus 120 per layer (qwen3-14b, default setup:
  /// 18,462 events for 560 tensors and 40 layers; MoE experts trained one by one: about 12 per
  /// tensor); room for 32 and 200 leaves a third to spare, and an over-estimate costs only
  /// address space that is never touched. Capped at ``reservedEventLimit``: a larger run grows
  /// the array as it goes.
  init(layers: Int64, trainable: [TrainableTensorGroup]) {
    let limit = Int64(Self.reservedEventLimit)
    var tensors: Int64 = 0
    for group in trainable { tensors = min(tensors + min(max(group.tensorCount, 0), limit), limit) }
    let layers = min(max(layers, 0), limit)
    events.reserveCapacity(Int(min(32 * tensors + 200 * layers + 64, limit)))
  }

  /// The most events a schedule reserves room for up front (96 MiB at 24 bytes an event;
  /// Qwen3-235B-A22B with every expert adapted reserves 2.4 M).
  static let reservedEventLimit = 1 << 22

  /// Allocates `bytes` (nothing for zero bytes: the id is then ignored by ``free(_:)``).
  @discardableResult
  mutating func allocate(_ bytes: ByteCount, _ tensor: ScheduledTensor) -> Int32 {
    guard bytes > .zero else { return -1 }
    if fitsTheAllocatorArithmetic {
      let (sum, overflow) = allocatedWithGaps.addingReportingOverflow(bytes.bytes)
      if overflow || sum >= (Int64(1) << 62) - (22 << 20) {
        fitsTheAllocatorArithmetic = false
      } else {
        allocatedWithGaps = sum + (22 << 20)
      }
    }
    nextID += 1
    events.append(.allocate(id: nextID, bytes: bytes.bytes, tensor: tensor))
    fingerprint = (fingerprint &* 31) &+ Int(truncatingIfNeeded: bytes.bytes)
    return nextID
  }

  /// Allocates each of `sizes` in order; their ids replace the contents of `ids`, whose storage
  /// is reused (a layer's short-lived tensors need no new array in every layer).
  mutating func allocate(_ sizes: [ByteCount], _ tensor: ScheduledTensor, ids: inout [Int32]) {
    ids.removeAll(keepingCapacity: true)
    for bytes in sizes { ids.append(allocate(bytes, tensor)) }
  }

  mutating func free(_ id: Int32) {
    guard id >= 0 else { return }
    events.append(.free(id: id))
    fingerprint = (fingerprint &* 31) &+ Int(id)
  }

  /// Frees each of `ids` in order (a reversed array is walked in place, not copied).
  mutating func free<IDs: Sequence<Int32>>(_ ids: IDs) {
    for id in ids { free(id) }
  }

  /// The index of the event where the run's first loss chunk is allocated (the warm-up step's):
  /// what the device has free just before it sizes a loss that chunks by free memory
  /// (``StepContext/lossChunkBudget``). Nil before a loss is scheduled.
  private(set) var firstLossChunk: Int?

  /// Notes that the next event allocates a loss chunk.
  mutating func markLossChunk() {
    if firstLossChunk == nil { firstLossChunk = events.count }
  }

  mutating func enter(_ phase: SchedulePhase) {
    events.append(.phase(phase))
    fingerprint = fingerprint &* 31 &+ 7
  }

  /// Whether every allocation together, each with a whole extra segment's rounding and address
  /// gap (22 MiB), stays below 2^62 bytes: then no sum the allocator simulation makes (reserved
  /// bytes, addresses) can overflow Int64. Kept as the events are added, not found by a pass
  /// over them for each estimate.
  private(set) var fitsTheAllocatorArithmetic = true

  /// The largest sum of live bytes in each phase (the running maximum from the phase's start,
  /// where it begins with what is live then). Phases absent from the stream are absent here.
  public var peakAllocatedByPhase: [(phase: SchedulePhase, bytes: ByteCount)] {
    var live: [Int32: Int64] = [:]
    var allocated: Int64 = 0
    var result: [(phase: SchedulePhase, bytes: ByteCount)] = []
    for event in events {
      switch event {
      case .allocate(let id, let bytes, _):
        live[id] = bytes
        allocated += bytes
        if let last = result.last, allocated > last.bytes.bytes {
          result[result.count - 1].bytes = ByteCount(allocated)
        }
      case .free(let id):
        allocated -= live.removeValue(forKey: id) ?? 0
      case .phase(let phase):
        result.append((phase, ByteCount(allocated)))
      }
    }
    return result
  }
}

/// The phases of the schedule, in order: a warm-up step precedes the measured one, as in the
/// measured runs (`torch.cuda.reset_peak_memory_stats()` between them resets the allocated
/// peak, never the reserved bytes).
package enum SchedulePhase: String, Hashable, Sendable {
  case loading
  case warmUp = "warm_up"
  case forward, backward, optimizer
}

/// What a scheduled tensor is: names the free blocks it leaves behind.
package enum ScheduledTensor: String, Hashable, Sendable, CaseIterable {
  case stagingCopy = "16-bit staging copies of loading"
  case quantizationTemporary = "4-bit quantization temporaries of loading"
  case quantizedWeight = "quantized weights"
  case originalWeight = "16-bit weights upcast to fp32"
  case unquantizedWeight = "unquantized weights"
  case adapter = "LoRA adapters"
  case optimizerState = "optimizer state"
  case gradient = "gradients"
  case workspace = "cuBLAS workspaces"
  case layerInput = "kept layer inputs"
  case savedActivation = "saved activations"
  case recomputedActivation = "recomputed layer activations"
  case forwardTemporary = "forward temporaries (attention scores)"
  case backwardTemporary = "backward temporaries"
  case dequantizedWeight = "dequantized 4-bit weights"
  case residualGradient = "residual-stream gradients"
  case logits = "logits and loss tensors"
  case lossGradient = "loss gradients"
  case stepConstant = "rotary tables, causal mask, autocast casts"
  case keyValueCache = "key/value cache"
  case previousStep = "the previous step's logits and graph"
  case optimizerTemporary = "optimizer temporaries"
  case other = "other tensors"
}

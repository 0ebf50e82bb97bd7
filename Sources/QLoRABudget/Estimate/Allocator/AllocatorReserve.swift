/// What the caching allocator holds beyond the tensors, from a simulation of its rules over the
/// run's schedule (``CachingAllocator``, ``AllocationSchedule``): the peak reserved bytes (which
/// never fall: cached segments are only released on an out-of-memory retry), and at the moment
/// they are reached, the free bytes cached and the largest free blocks with the tensors that
/// left them.
public struct AllocatorReserve: Hashable, Sendable {
  /// One cached free block.
  public struct CachedBlock: Hashable, Sendable {
    public let bytes: ByteCount
    /// The tensor that last occupied (the larger part of) the block.
    public let leftBy: ScheduledTensor
  }

  /// `torch.cuda.max_memory_reserved()` over the whole run: loading, the warm-up step, the step.
  public let peakReserved: ByteCount
  /// Reserved minus allocated when the reserve reached its peak.
  public let cachedFree: ByteCount
  /// The largest cached free blocks at that moment, largest first (at most 3).
  public let largestFreeBlocks: [CachedBlock]
  public let settings: AllocatorSettings
  public let loader: CheckpointLoader
  /// The peak reserved with the other loader model (threaded or sequential): the two bracket
  /// the truth, since which staging copies are free when depends on thread timing. Computed
  /// when read.
  public var otherLoaderPeakReserved: ByteCount { otherLoader.value }
  private let otherLoader: Deferred<ByteCount>

  /// How many blocks are named.
  static let namedBlocks = 3

  /// Replays `schedule` through the allocator.
  static func simulate(
    _ schedule: AllocationSchedule, settings: AllocatorSettings, loader: CheckpointLoader,
    otherLoader: @escaping @Sendable () -> AllocationSchedule
  ) -> AllocatorReserve {
    let peak = replay(schedule, settings: settings)
    return AllocatorReserve(
      peakReserved: ByteCount(peak.reserved), cachedFree: ByteCount(peak.reserved - peak.allocated),
      largestFreeBlocks: peak.blocks.map { CachedBlock(bytes: ByteCount($0.bytes), leftBy: $0.tensor) },
      settings: settings, loader: loader,
      otherLoader: Deferred { ByteCount(replay(otherLoader(), settings: settings).reserved) })
  }

  /// The reserved peak and, at the moment it was reached, the allocated bytes and the largest
  /// free blocks.
  static func replay(
    _ schedule: AllocationSchedule, settings: AllocatorSettings
  ) -> (reserved: Int64, allocated: Int64, blocks: [(bytes: Int64, tensor: ScheduledTensor)]) {
    var allocator = CachingAllocator(settings: settings)
    var live: [Int32] = []
    var peak: (reserved: Int64, allocated: Int64, blocks: [(bytes: Int64, tensor: ScheduledTensor)]) = (0, 0, [])
    var pending = false
    for event in schedule.events {
      switch event {
      case .allocate(let id, let bytes, let tensor):
        let before = allocator.reserved
        // Unlimited capacity: the simulation never runs out of memory.
        let block = allocator.malloc(bytes, tensor) ?? -1
        if Int(id) >= live.count { live.append(contentsOf: repeatElement(-1, count: Int(id) - live.count + 1)) }
        live[Int(id)] = block
        if allocator.reserved > before { pending = true }
      case .free(let id):
        if pending {
          // The blocks free at the peak: taken before the next free changes them.
          peak = (allocator.reserved, allocator.allocated, allocator.freeBlocks(limit: namedBlocks))
          pending = false
        }
        allocator.free(live[Int(id)])
      case .phase:
        break
      }
    }
    if pending { peak = (allocator.reserved, allocator.allocated, allocator.freeBlocks(limit: namedBlocks)) }
    return peak
  }
}

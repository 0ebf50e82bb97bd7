/// A replay of a schedule part way through: the allocator, the block each live tensor id holds,
/// and what the replay has found so far (``AllocatorReserve``'s peak event and the cached free
/// bytes then). Everything a replay's answer depends on is here, so a copy taken after a prefix
/// of events, resumed over another schedule that begins with the same events, answers as a
/// replay of that schedule from its start (``ReplayPrefixes``).
///
/// Non-copyable: it owns the live table and frees it when it ends.
struct ReplayProgress<Allocator: AllocatorSimulation & ~Copyable>: ~Copyable {
  var allocator: Allocator
  /// The block each live tensor id holds (-1: none), unchecked: ids are the schedule's own,
  /// below ``liveCount``.
  private let live: UnsafeMutablePointer<Int32>
  private let liveCount: Int
  /// The index of the next event to replay.
  private(set) var next = 0
  /// Whether the measured step has begun (its forward phase is marked).
  private var measuring = false
  /// The measured step's largest allocated bytes so far, the event where they were reached, and
  /// the cached free bytes then.
  private(set) var peakAllocated: Int64 = -1
  private(set) var peakEvent = 0
  private(set) var cachedFree: Int64 = 0

  /// A replay at the start of a schedule whose ids are below `idLimit`.
  init(settings: AllocatorSettings, idLimit: Int) {
    allocator = Allocator(settings: settings, capacity: nil)
    liveCount = max(idLimit, 1)
    live = .allocate(capacity: liveCount)
    live.initialize(repeating: -1, count: liveCount)
  }

  private init(copying other: borrowing ReplayProgress, idLimit: Int) {
    allocator = other.allocator.copy()
    liveCount = max(idLimit, 1)
    live = .allocate(capacity: liveCount)
    // Ids are handed out in order: past the prefix's, the other table holds -1 too.
    let shared = min(liveCount, other.liveCount)
    live.initialize(from: other.live, count: shared)
    (live + shared).initialize(repeating: -1, count: liveCount - shared)
    next = other.next
    measuring = other.measuring
    peakAllocated = other.peakAllocated
    peakEvent = other.peakEvent
    cachedFree = other.cachedFree
  }

  deinit {
    live.deallocate()
  }

  /// The same progress with storage of its own, its live table sized for a schedule whose ids
  /// are below `idLimit` (one that begins with the events replayed so far).
  func copy(idLimit: Int) -> ReplayProgress {
    ReplayProgress(copying: self, idLimit: idLimit)
  }

  /// Replays `events` from ``next`` up to (not including) `end`; false when it stopped early
  /// because the reserved bytes passed `limit` (``next`` is then past the event that did).
  mutating func advance(
    _ events: UnsafeBufferPointer<AllocationSchedule.Event>, to end: Int, above limit: Int64
  ) -> Bool {
    while next < end {
      let index = next
      next += 1
      switch events[index] {
      case .allocate(let id, let bytes, let tensor):
        // Unlimited capacity: the simulation never runs out of memory.
        live[Int(id)] = allocator.malloc(bytes, tensor) ?? -1
        if allocator.reserved > limit { return false }
        if measuring && allocator.allocated > peakAllocated {
          (peakAllocated, peakEvent, cachedFree) = (
            allocator.allocated, index, allocator.reserved - allocator.allocated
          )
        }
      case .free(let id):
        allocator.free(live[Int(id)])
      case .phase(let phase):
        measuring = measuring || phase == .forward
      }
    }
    return true
  }
}

/// What the caching allocator holds beyond the tensors, from a simulation of its rules over the
/// run's schedule (``CachingAllocator``, ``AllocationSchedule``): the peak reserved bytes (which
/// never fall: cached segments are only released on an out-of-memory retry), and at the moment
/// they are reached, the free bytes cached and the largest free blocks with the tensors that
/// left them.
package struct AllocatorReserve: Hashable, Sendable {
  /// One cached free block.
  package struct CachedBlock: Hashable, Sendable {
    public let bytes: ByteCount
    /// The tensor that last occupied (the larger part of) the block.
    public let leftBy: ScheduledTensor
  }

  /// `torch.cuda.max_memory_reserved()` over the whole run: loading, the warm-up step, the step.
  public let peakReserved: ByteCount
  /// Reserved minus allocated (the allocator's rounded blocks) at the measured step's
  /// allocated peak: what the process holds beyond its tensors then.
  public let cachedFree: ByteCount
  /// The largest cached free blocks at that moment, largest first (at most 3). Computed when read.
  public var largestFreeBlocks: [CachedBlock] { blocks.value }
  public let settings: AllocatorSettings
  public let loader: CheckpointLoader
  /// The peak reserved with the other loader model (threaded or sequential): the two bracket
  /// the truth, since which staging copies are free when depends on thread timing. Computed
  /// when read.
  public var otherLoaderPeakReserved: ByteCount { otherLoader.value }
  /// When the peak reserved does not fit the GPU (beside the CUDA context): the peak reserved
  /// with that capacity, the allocator releasing its cached segments on out-of-memory retries
  /// (`release_cached_blocks`) if the run then completes; nil when it does not, or when the
  /// peak fits anyway. Information only: no boundary measurement validates it yet. Computed
  /// when read (a second replay; the planners' probes that do not fit never read it).
  public var completingPeakReserved: ByteCount? { completing.value }
  private let completing: Deferred<ByteCount?>
  private let blocks: Deferred<[CachedBlock]>
  private let otherLoader: Deferred<ByteCount>

  /// The cached free bytes and the blocks in words: "1.02 GiB cached free at the step's peak:
  /// two 512.00 MiB blocks left by backward temporaries, 20.00 MiB left by gradients".
  public var summary: String {
    var groups: [(count: Int, bytes: ByteCount, tensor: ScheduledTensor)] = []
    for block in largestFreeBlocks {
      if let last = groups.last, last.bytes == block.bytes, last.tensor == block.leftBy {
        groups[groups.count - 1].count += 1
      } else {
        groups.append((1, block.bytes, block.leftBy))
      }
    }
    let counts = [2: "two", 3: "three"]
    let words = groups.map { group in
      (group.count > 1
        ? "\(counts[group.count] ?? String(group.count)) \(group.bytes.formatted()) blocks" : group.bytes.formatted())
        + " left by " + group.tensor.rawValue
    }
    return cachedFree.formatted() + " cached free at the step's allocated peak"
      + (words.isEmpty ? "" : "; its largest blocks: " + words.joined(separator: ", "))
  }

  /// How many blocks are named.
  static let namedBlocks = 3

  /// The replays estimates keep part way through, shared by every question in the process.
  static let prefixes = ReplayPrefixes<CachingAllocator>()

  /// Forgets the replays kept part way, so that the next estimate replays from the start (the
  /// bench's figure for an estimate that shares nothing with the one before).
  package static func forgetKeptReplays() { prefixes.forget() }

  /// Replays `schedule` through the allocator.
  static func simulate(
    _ schedule: AllocationSchedule, settings: AllocatorSettings, loader: CheckpointLoader, capacity: ByteCount?,
    otherLoader: @escaping @Sendable () -> AllocationSchedule
  ) -> AllocatorReserve {
    simulate(
      schedule, settings: settings, loader: loader, capacity: capacity, otherLoader: otherLoader,
      allocator: CachingAllocator.self, memo: .shared, prefixes: prefixes)
  }

  /// Replays `schedule` through the oracle over `pool` (the tests' reference replay).
  static func simulate<Pool: FreeBlockPool>(
    _ schedule: AllocationSchedule, settings: AllocatorSettings, loader: CheckpointLoader, capacity: ByteCount?,
    otherLoader: @escaping @Sendable () -> AllocationSchedule, pool: Pool.Type, memo: ReplayMemo? = nil
  ) -> AllocatorReserve {
    simulate(
      schedule, settings: settings, loader: loader, capacity: capacity, otherLoader: otherLoader,
      allocator: CachingAllocatorSimulation<Pool>.self, memo: memo)
  }

  /// Replays `schedule` through `Allocator` (the test of the fast allocator replays with the
  /// oracle), or takes the run from `memo` when it holds it; resumed from `prefixes` where
  /// they hold a replay of the same first events.
  static func simulate<Allocator: AllocatorSimulation & ~Copyable>(
    _ schedule: AllocationSchedule, settings: AllocatorSettings, loader: CheckpointLoader, capacity: ByteCount?,
    otherLoader: @escaping @Sendable () -> AllocationSchedule, allocator: Allocator.Type, memo: ReplayMemo? = nil,
    prefixes: ReplayPrefixes<Allocator>? = nil
  ) -> AllocatorReserve {
    func whole() -> ReplayMemo.Run {
      let run = replay(schedule, settings: settings, stoppingAt: nil, allocator: allocator, prefixes: prefixes)
      return ReplayMemo.Run(peakReserved: run.peakReserved, peakEvent: run.peakEvent, cachedFree: run.cachedFree)
    }
    let run = memo?.run(schedule, settings, replay: whole) ?? whole()
    return AllocatorReserve(
      peakReserved: ByteCount(run.peakReserved), cachedFree: ByteCount(run.cachedFree), settings: settings,
      loader: loader,
      completing: Deferred {
        guard let capacity, capacity > .zero, run.peakReserved > capacity.bytes else { return nil }
        return completingPeak(schedule, settings: settings, capacity: capacity.bytes, allocator: allocator).map(
          ByteCount.init)
      },
      blocks: Deferred {
        replay(schedule, settings: settings, stoppingAt: run.peakEvent, allocator: allocator, prefixes: prefixes)
          .blocks.map {
            CachedBlock(bytes: ByteCount($0.bytes), leftBy: $0.tensor)
          }
      },
      otherLoader: Deferred {
        ByteCount(replay(otherLoader(), settings: settings, stoppingAt: nil, allocator: allocator).peakReserved)
      })
  }

  /// Whether the peak reserved of `schedule` exceeds `limit` bytes: replayed only until the
  /// reserved bytes (which never fall) pass it, so a run that is over a planner's limit is not
  /// simulated to its end. A run replayed whole is remembered in `memo` for its estimate.
  static func peakReserved(
    of schedule: AllocationSchedule, settings: AllocatorSettings, exceeds limit: Int64, memo: ReplayMemo = .shared,
    prefixes: ReplayPrefixes<CachingAllocator>? = prefixes
  ) -> Bool {
    let key = ReplayMemo.Key(schedule, settings)
    if let run = memo.remembered(key) { return run.peakReserved > limit }
    let run = replay(
      schedule, settings: settings, stoppingAt: nil, above: limit, allocator: CachingAllocator.self,
      prefixes: prefixes)
    guard run.peakReserved <= limit else { return true }
    memo.remember(
      ReplayMemo.Run(peakReserved: run.peakReserved, peakEvent: run.peakEvent, cachedFree: run.cachedFree), for: key)
    return false
  }

  /// The bytes reserved just before event `index` (the whole run's, when it is past the end):
  /// with unlimited capacity nothing is released, so the peak so far is what is held.
  static func reserved(
    of schedule: AllocationSchedule, settings: AllocatorSettings, before index: Int,
    prefixes: ReplayPrefixes<CachingAllocator>? = prefixes
  ) -> Int64 {
    guard index > 0 else { return 0 }
    return replay(
      schedule, settings: settings, stoppingAt: index - 1, allocator: CachingAllocator.self, prefixes: prefixes
    ).peakReserved
  }

  /// Whether `schedule` completes within `capacity` bytes reserved, the allocator releasing its
  /// cache when an allocation would pass it.
  static func completes(_ schedule: AllocationSchedule, settings: AllocatorSettings, within capacity: Int64) -> Bool {
    completingPeak(schedule, settings: settings, capacity: capacity, allocator: CachingAllocator.self) != nil
  }

  /// The peak reserved within `capacity` bytes, or nil when an allocation fails even after the
  /// cache is released.
  private static func completingPeak<Allocator: AllocatorSimulation & ~Copyable>(
    _ schedule: AllocationSchedule, settings: AllocatorSettings, capacity: Int64, allocator: Allocator.Type
  ) -> Int64? {
    var allocator = Allocator(settings: settings, capacity: capacity)
    return withLiveBlocks(schedule) { live, events in
      for event in events {
        switch event {
        case .allocate(let id, let bytes, let tensor):
          guard let block = allocator.malloc(bytes, tensor) else { return nil }
          live[Int(id)] = block
        case .free(let id):
          allocator.free(live[Int(id)])
        case .phase:
          break
        }
      }
      return allocator.peakReserved
    }
  }

  /// The peak reserved, the event where the measured step's allocated bytes peak and the cached
  /// free bytes then; replayed up to `stoppingAt`, the free blocks at that event.
  /// With `above`, the replay also stops once the reserved bytes pass it (the peak returned is
  /// then above it, the rest is unfinished). Resumed from `prefixes` where they hold a replay of
  /// the same first events, and kept part way for the next schedule. Never inlined, so that a
  /// profile names the replay whichever question asked for it.
  @inline(never)
  private static func replay<Allocator: AllocatorSimulation & ~Copyable>(
    _ schedule: AllocationSchedule, settings: AllocatorSettings, stoppingAt stop: Int?, above limit: Int64 = .max,
    allocator: Allocator.Type, prefixes: ReplayPrefixes<Allocator>? = nil
  ) -> (peakReserved: Int64, peakEvent: Int, cachedFree: Int64, blocks: [(bytes: Int64, tensor: ScheduledTensor)]) {
    let events = schedule.events
    // The free blocks are read at `stop` when the schedule reaches it.
    let stops = stop.map { $0 >= 0 && $0 < events.count } ?? false
    let end = stops ? stop! + 1 : events.count
    let plan = prefixes?.plan(events, settings, end: end)
    var progress =
      plan?.resume?.progress.copy(idLimit: schedule.idLimit)
      ?? ReplayProgress<Allocator>(settings: settings, idLimit: schedule.idLimit)
    var kept = plan?.resume
    let completed = events.withUnsafeBufferPointer { events in
      if let keepAt = plan?.keepAt {
        guard progress.advance(events, to: keepAt, above: limit) else { return false }
        kept = ReplayPrefixes.Snapshot(position: keepAt, progress: progress.copy(idLimit: schedule.idLimit))
      }
      return progress.advance(events, to: end, above: limit)
    }
    prefixes?.remember(schedule.events, settings, snapshot: kept)
    let blocks = completed && stops ? progress.allocator.freeBlocks(limit: namedBlocks) : []
    return (progress.allocator.peakReserved, progress.peakEvent, progress.cachedFree, blocks)
  }

  /// Runs `body` over the schedule's events and a table of the block each live tensor id holds
  /// (-1 at first), both unchecked: the ids are the schedule's own, below its `idLimit`.
  private static func withLiveBlocks<Result>(
    _ schedule: AllocationSchedule,
    _ body: (UnsafeMutablePointer<Int32>, UnsafeBufferPointer<AllocationSchedule.Event>) -> Result
  ) -> Result {
    let live = UnsafeMutablePointer<Int32>.allocate(capacity: schedule.idLimit)
    live.initialize(repeating: -1, count: schedule.idLimit)
    defer { live.deallocate() }
    return schedule.events.withUnsafeBufferPointer { body(live, $0) }
  }
}

import Foundation

/// The allocator replays of the last few schedules, so that a schedule met again is not
/// simulated again: a `table` row judged on several GPUs (the schedule depends on the GPU only
/// through its cuBLAS workspaces, and the capacity only through the completing peak, computed
/// when read), and any setup estimated again. Keyed by the schedule itself (every event) and the allocator settings, so a hit
/// is exact whatever produced the schedule; a fingerprint of the events
/// (``AllocationSchedule/fingerprint``, mixed as the schedule is built) is compared first.
/// Distinct schedules met in a cycle longer than ``capacity`` (a planner's bisection) never
/// hit: they pay only the look-up.
final class ReplayMemo: @unchecked Sendable {
  /// What a replay of a whole schedule yields: the peak reserved, the event at which the
  /// measured step's allocated bytes peak, and the cached free bytes then.
  struct Run: Hashable {
    let peakReserved: Int64
    let peakEvent: Int
    let cachedFree: Int64
  }

  /// A schedule and settings as the memo looks them up.
  struct Key {
    let fingerprint: Int
    let events: [AllocationSchedule.Event]
    let settings: AllocatorSettings

    init(_ schedule: AllocationSchedule, _ settings: AllocatorSettings) {
      fingerprint = schedule.fingerprint
      events = schedule.events
      self.settings = settings
    }

    func matches(_ other: Key) -> Bool {
      fingerprint == other.fingerprint && settings == other.settings && events == other.events
    }
  }

  private struct Entry {
    let key: Key
    let run: Run
  }

  static let shared = ReplayMemo()
  /// Schedules kept (each about 0.5 MB for a 40-layer model).
  static let capacity = 8

  private let lock = NSLock()
  /// Most recently used last.
  private var entries: [Entry] = []
  private(set) var hits = 0

  /// The run of `schedule` under `settings`: remembered, or made by `replay` and remembered.
  func run(_ schedule: AllocationSchedule, _ settings: AllocatorSettings, replay: () -> Run) -> Run {
    let key = Key(schedule, settings)
    if let run = remembered(key) { return run }
    let run = replay()
    remember(run, for: key)
    return run
  }

  /// The run of the schedule and settings `key` names, when it is remembered.
  func remembered(_ key: Key) -> Run? {
    lock.lock()
    defer { lock.unlock() }
    guard let index = entries.lastIndex(where: { $0.key.matches(key) }) else { return nil }
    let entry = entries.remove(at: index)
    entries.append(entry)
    hits += 1
    return entry.run
  }

  /// Remembers `run` as the replay of the schedule and settings `key` names.
  func remember(_ run: Run, for key: Key) {
    lock.lock()
    if entries.count == Self.capacity { entries.removeFirst() }
    entries.append(Entry(key: key, run: run))
    lock.unlock()
  }
}

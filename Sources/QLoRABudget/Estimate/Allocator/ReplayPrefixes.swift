import Foundation

/// Replays of the last few schedules kept part way through, so that a schedule that begins
/// with the same events as one replayed before resumes where they part instead of starting
/// again. The planners' probes differ from one another only in what their change touches:
/// another LoRA rank first shows in loading's adapters (Qwen3-14B: event 1,128 of 18,462), another
/// sequence length in the warm-up step's first tensor (after loading's 1,688 events), so every
/// probe of a `solve`, of `fit`'s changes or of a `table` row shares its loading with the one
/// before.
///
/// Exact by construction: a replay is a function of the allocator settings and the events
/// alone (the capacity is unlimited), so the progress after the same events is the same
/// progress, and a resumed replay answers what a replay from the start would.
/// `ReplayPrefixTests` checks it against replays from the start.
///
/// How it learns where schedules part: each replay is compared with the last schedule replayed
/// under the same settings; where the two part, the replay keeps a copy of its progress (when
/// that saves at least ``minimumGain`` events over the copy it could resume from), and the next
/// schedule that shares that prefix resumes from it.
final class ReplayPrefixes<Allocator: AllocatorSimulation & ~Copyable>: @unchecked Sendable {
  /// The progress of a replay after `position` events of `events`.
  final class Snapshot: @unchecked Sendable {
    let position: Int
    let progress: ReplayProgress<Allocator>

    init(position: Int, progress: consuming ReplayProgress<Allocator>) {
      self.position = position
      self.progress = progress
    }
  }

  /// Where a replay of a schedule starts, and where it should keep its progress.
  struct Plan {
    /// The progress to resume from (nil: the start).
    let resume: Snapshot?
    /// The event before which to keep a copy of the progress (nil: none).
    let keepAt: Int?
  }

  private struct Entry {
    let events: [AllocationSchedule.Event]
    let settings: AllocatorSettings
    /// Progress after a prefix these events share with the replay that made it.
    let snapshot: Snapshot?
  }

  /// Schedules remembered (their events are shared with the schedules, not copied).
  static var capacity: Int { 4 }
  /// The fewest events a new copy of the progress must save over the one already resumable (a
  /// copy costs the allocator's storage, tens of kilobytes).
  static var minimumGain: Int { 512 }

  private let lock = NSLock()
  /// Most recently replayed last.
  private var entries: [Entry] = []
  /// How many replays resumed from a kept progress (for the tests).
  private(set) var resumed = 0

  /// Where a replay of `events` under `settings`, to run up to event `end`, starts.
  func plan(_ events: [AllocationSchedule.Event], _ settings: AllocatorSettings, end: Int) -> Plan {
    lock.lock()
    defer { lock.unlock() }
    var resume: Snapshot?
    var shared = 0
    var newest = true
    for entry in entries.reversed() where entry.settings == settings {
      if newest {
        // Where this schedule parts from the last one replayed: where the next may part too.
        shared = Self.sharedPrefix(events, entry.events, upTo: end)
      }
      if let snapshot = entry.snapshot, snapshot.position <= end, snapshot.position > (resume?.position ?? 0),
        newest
          ? snapshot.position <= shared
          : Self.sharedPrefix(events, entry.events, upTo: snapshot.position) == snapshot.position
      {
        resume = snapshot
      }
      newest = false
    }
    if resume != nil { resumed += 1 }
    let keepAt = shared >= (resume?.position ?? 0) + Self.minimumGain && shared < end ? shared : nil
    return Plan(resume: resume, keepAt: keepAt)
  }

  /// Remembers `events` as replayed under `settings`, with progress after a prefix of them.
  func remember(_ events: [AllocationSchedule.Event], _ settings: AllocatorSettings, snapshot: Snapshot?) {
    lock.lock()
    defer { lock.unlock() }
    if entries.count == Self.capacity { entries.removeFirst() }
    entries.append(Entry(events: events, settings: settings, snapshot: snapshot))
  }

  /// Forgets every schedule (the bench times estimates that share no prefix with this).
  func forget() {
    lock.lock()
    defer { lock.unlock() }
    entries.removeAll()
  }

  /// How many leading events `a` and `b` share, counting at most `limit`.
  private static func sharedPrefix(
    _ a: [AllocationSchedule.Event], _ b: [AllocationSchedule.Event], upTo limit: Int
  ) -> Int {
    a.withUnsafeBufferPointer { a in
      b.withUnsafeBufferPointer { b in
        let count = min(a.count, b.count, limit)
        var index = 0
        while index < count && a[index] == b[index] { index += 1 }
        return index
      }
    }
  }
}

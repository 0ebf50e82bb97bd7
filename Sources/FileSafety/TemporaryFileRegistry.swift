import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The temporary files and folders this process is writing, removed if it is interrupted.
///
/// SIGINT, SIGTERM and SIGHUP run a handler that unlinks every registered file, then removes
/// every registered (by then empty) folder, then re-raises the signal with its default action,
/// so the exit status still says which signal ended the process. The handler only calls
/// `unlink`, `rmdir`, `signal` and `raise` (async-signal-safe) on C strings prepared at
/// registration. SIGXFSZ is ignored so that a file-size limit makes `write` fail with EFBIG,
/// which the writer reports and cleans up after, instead of killing the process mid-write.
public enum TemporaryFileRegistry {
  /// Registered paths at most at once (a sharded output registers one per shard).
  static let capacity = 65_536

  /// Registers `path` for removal on a signal; returns the slot to ``unregister(_:)``.
  static func register(_ path: String, isDirectory: Bool) -> Int? {
    installHandlers()
    lock.lock()
    defer { lock.unlock() }
    guard let slot = (0..<capacity).first(where: { slots[$0] == nil }) else { return nil }
    kinds[slot] = isDirectory ? 1 : 0
    slots[slot] = strdup(path)
    return slot
  }

  /// Forgets a slot (the file was renamed into place or removed).
  static func unregister(_ slot: Int?) {
    guard let slot else { return }
    lock.lock()
    defer { lock.unlock() }
    let path = slots[slot]
    slots[slot] = nil
    free(path)
  }

  private static let lock = NSLock()
  nonisolated(unsafe) fileprivate static let slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
    let slots = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
    slots.initialize(repeating: nil, count: capacity)
    return slots
  }()
  nonisolated(unsafe) fileprivate static let kinds: UnsafeMutablePointer<UInt8> = {
    let kinds = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    kinds.initialize(repeating: 0, count: capacity)
    return kinds
  }()

  private static let installed: Void = {
    _ = slots
    _ = kinds
    signal(SIGXFSZ, SIG_IGN)
    for number in [SIGINT, SIGTERM, SIGHUP] {
      // Keep a signal the parent chose to ignore (nohup) ignored.
      let previous = signal(number, removeRegisteredPathsAndReraise)
      if unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { signal(number, SIG_IGN) }
    }
  }()

  private static func installHandlers() { _ = installed }
}

private func removeRegisteredPathsAndReraise(_ number: Int32) {
  let slots = TemporaryFileRegistry.slots
  let kinds = TemporaryFileRegistry.kinds
  for pass in [UInt8(0), 1] {
    for slot in 0..<TemporaryFileRegistry.capacity {
      guard kinds[slot] == pass, let path = slots[slot] else { continue }
      if pass == 0 { unlink(path) } else { rmdir(path) }
    }
  }
  signal(number, SIG_DFL)
  raise(number)
}

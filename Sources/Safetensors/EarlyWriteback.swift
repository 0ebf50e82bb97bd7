import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Keeps a file being written sequentially from filling memory with dirty pages: every
/// ``stride`` bytes its pages are handed to the disk, and those already on it leave the page
/// cache, so writing costs a few recycled pages instead of fresh ones and `fsync` waits for
/// the tail only.
///
/// Why: Linux starts writing dirty pages back on its own only past `dirty_background_ratio` of
/// memory (gigabytes) or after 30 seconds, so a quantized shard of a few hundred MB reached the
/// disk all at once inside `fsync`, and every page of it was a newly allocated page, which on a
/// virtual machine (memory handed back to the host while free) costs far more than the copy:
/// writing 1 GiB with `dd` took 2.0-2.1 s of system time, 0.30-0.33 s with `oflag=nocache`,
/// which does the same as this (measured on the project's 2-core VM).
///
/// How: `posix_fadvise(POSIX_FADV_DONTNEED)` over everything written so far. Linux starts the
/// writeback of the dirty pages in the range without waiting for it (`WB_SYNC_NONE`) and drops
/// the clean ones, skipping those still being written (a later call drops them). A hint only:
/// where it does nothing, `fsync` still writes everything, so the file's contents and the
/// commit's guarantees are the same either way.
final class EarlyWriteback {
  /// Bytes between two hints: large enough that the calls cost nothing, small enough that
  /// little is dirty at a time.
  static let stride: Int64 = 16 << 20

  private let descriptor: Int32
  /// The file offset of the last hint.
  private var hinted: Int64 = 0

  /// Opens `path` (the file being written) for the hints; nil where there are none.
  init?(path: String) {
    #if os(Linux)
      descriptor = open(path, O_RDONLY | O_CLOEXEC)
      guard descriptor >= 0 else { return nil }
    #else
      return nil
    #endif
  }

  deinit {
    #if os(Linux)
      close(descriptor)
    #endif
  }

  /// The file now holds data up to `end` (written in order): once that is ``stride`` bytes
  /// past the last hint, hints the whole range before it.
  func written(upTo end: Int64) {
    #if os(Linux)
      guard end - hinted >= Self.stride else { return }
      _ = posix_fadvise(descriptor, 0, off_t(end), POSIX_FADV_DONTNEED)
      hinted = end
    #endif
  }
}

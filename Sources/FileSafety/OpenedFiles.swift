import Foundation

/// Every file this process has opened for reading through ``ReadableFile``, by identity.
///
/// The rule for writes is that a command never replaces a file it reads. The files named on
/// the command line are not all of them: a training config names a DeepSpeed file, a Hub id
/// resolves to a cached config.json. Recording each open where it happens lets the writer
/// protect them all, whichever reader opened them.
public enum OpenedFiles {
  /// At most this many are remembered (a sharded checkpoint opens one file per shard); past it
  /// the earliest are kept, which still covers the files a command reads first, its inputs.
  static let capacity = 100_000

  private static let lock = NSLock()
  nonisolated(unsafe) private static var opened: [FileIdentity: String] = [:]

  static func record(_ identity: FileIdentity, path: String) {
    lock.lock()
    defer { lock.unlock() }
    if opened.count < capacity, opened[identity] == nil { opened[identity] = path }
  }

  /// The files opened so far, each with the path it was first opened by.
  public static var all: [FileIdentity: String] {
    lock.lock()
    defer { lock.unlock() }
    return opened
  }
}

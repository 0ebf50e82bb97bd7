import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Removes the temporaries a killed run left behind (SIGKILL runs no handler).
///
/// ``AtomicFileWriter`` and ``StagingFolder`` name their temporaries
/// `.<name>.tmp-<pid>-<hex>`; before writing into a folder, each entry of that exact form whose
/// process no longer exists (`kill(pid, 0)` fails with `ESRCH`) is removed: a file or, for a
/// staging folder, the folder and its contents. Links are never followed or removed. Each
/// folder is swept once per process. A live process's temporaries (another run writing there
/// now) are left alone; a dead process's whose PID has been reused stay until the next sweep.
enum StaleTemporaries {
  private static let lock = NSLock()
  nonisolated(unsafe) private static var swept: Set<String> = []

  static func sweep(_ folder: String) {
    let first = lock.withLock { swept.insert(folder).inserted }
    guard first, let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
    for name in names {
      guard let pid = owner(name), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
      let path = (folder == "/" ? "" : folder) + "/" + name
      guard let status = FileStatus.ofLink(path) else { continue }
      if FileStatus.isRegular(status) {
        unlink(path)
      } else if FileStatus.isDirectory(status) {
        try? FileManager.default.removeItem(atPath: path)
      }
    }
  }

  /// The PID in a temporary's name `.<name>.tmp-<pid>-<hex>`, or nil for any other name.
  static func owner(_ name: String) -> pid_t? {
    guard name.hasPrefix("."), let marker = name.range(of: ".tmp-", options: .backwards),
      marker.lowerBound > name.index(after: name.startIndex)
    else { return nil }
    let parts = name[marker.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 2, (1...10).contains(parts[0].count), (1...8).contains(parts[1].count),
      parts[0].allSatisfy({ $0.isASCII && $0.isNumber }), parts[1].allSatisfy({ $0.isASCII && $0.isHexDigit }),
      let pid = pid_t(parts[0]), pid > 0
    else { return nil }
    return pid
  }
}

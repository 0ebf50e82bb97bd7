import Foundation
import Testing

@testable import NF4Quantization

/// The background commits of a folder's shards run in order, and the first error stops the
/// rest and reaches the caller.
@Suite struct BackgroundCommitsTests {
  struct Failure: Error, Equatable { let shard: Int }

  final class Log: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [Int] = []
    func append(_ value: Int) {
      lock.lock()
      entries.append(value)
      lock.unlock()
    }
    var values: [Int] {
      lock.lock()
      defer { lock.unlock() }
      return entries
    }
  }

  @Test func runInOrder() throws {
    let commits = BackgroundCommits()
    let log = Log()
    for shard in 0..<5 {
      commits.submit {
        usleep(UInt32(1000 * (5 - shard)))
        log.append(shard)
      }
    }
    commits.wait()
    try commits.throwFailure()
    #expect(log.values == [0, 1, 2, 3, 4])
  }

  @Test func firstErrorStopsTheRestAndIsThrown() {
    let commits = BackgroundCommits()
    let log = Log()
    commits.submit { log.append(0) }
    commits.submit { throw Failure(shard: 1) }
    commits.submit { throw Failure(shard: 2) }
    commits.submit { log.append(3) }
    commits.wait()
    #expect(throws: Failure(shard: 1)) { try commits.throwFailure() }
    #expect(log.values == [0])
  }
}

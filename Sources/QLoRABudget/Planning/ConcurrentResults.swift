import Foundation

/// Results written by concurrent jobs (`DispatchQueue.concurrentPerform`), one slot each, read
/// in the order the jobs were listed whatever order they ran in.
final class ConcurrentResults<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var slots: [Result<T, PlanningError>?]

  init(count: Int) { slots = Array(repeating: nil, count: count) }

  func set(_ index: Int, _ result: Result<T, PlanningError>) {
    lock.lock()
    slots[index] = result
    lock.unlock()
  }

  /// Every result in order; the first failure thrown.
  func values() throws(PlanningError) -> [T] {
    var values: [T] = []
    for result in results() { values.append(try result.get()) }
    return values
  }

  /// Every result written, in order.
  func results() -> [Result<T, PlanningError>] {
    lock.lock()
    defer { lock.unlock() }
    return slots.compactMap { $0 }
  }

  /// Runs `job` for every index in `0..<count` concurrently (one per core) and keeps what each
  /// returns or throws in its slot.
  static func run(count: Int, _ job: @Sendable (Int) throws(PlanningError) -> T) -> ConcurrentResults<T> {
    let results = ConcurrentResults(count: count)
    DispatchQueue.concurrentPerform(iterations: count) { index in
      do throws(PlanningError) {
        results.set(index, .success(try job(index)))
      } catch {
        results.set(index, .failure(error))
      }
    }
    return results
  }
}

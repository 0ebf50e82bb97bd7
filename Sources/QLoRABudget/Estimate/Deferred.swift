/// A value built only when it is read: the formula and assumption text of an estimate.
///
/// Formulas and assumptions are shown to a person once, but the planners make thousands of
/// estimates per question and read none of them: building every string eagerly cost most of
/// an estimate's time (docs/performance.md). Equality and hashing use the value itself, so a
/// type holding a deferred value compares exactly as if it held the value.
struct Deferred<Value: Hashable & Sendable>: Hashable, Sendable {
  private let make: @Sendable () -> Value

  init(_ make: @escaping @Sendable () -> Value) { self.make = make }

  var value: Value { make() }

  static func == (a: Deferred, b: Deferred) -> Bool { a.value == b.value }
  func hash(into hasher: inout Hasher) { hasher.combine(value) }
}

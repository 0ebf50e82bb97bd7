/// "Did you mean ...?" candidates, ranked by edit distance, as swift-argument-parser does.
public enum Suggestions {
  /// Up to `limit` candidates within a distance that scales with the input's length.
  public static func closest(to input: String, among candidates: [String], limit: Int = 2) -> [String] {
    let needle = Array(input.lowercased())
    let threshold = max(2, needle.count / 3)
    let scored = candidates.map { ($0, distance(needle, Array($0.lowercased()))) }
      .filter { $0.1 <= threshold || $0.0.lowercased().contains(input.lowercased()) && !input.isEmpty }
      .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
    return Array(scored.prefix(limit).map(\.0))
  }

  /// Levenshtein distance.
  static func distance(_ a: [Character], _ b: [Character]) -> Int {
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      current[0] = i
      for j in 1...b.count {
        let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
        current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
      }
      swap(&previous, &current)
    }
    return previous[b.count]
  }
}

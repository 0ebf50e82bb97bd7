/// "Did you mean ...?" candidates, ranked by edit distance, as swift-argument-parser does.
package enum Suggestions {
  /// Up to `limit` candidates within a distance that scales with the input's length.
  public static func closest(to input: String, among candidates: [String], limit: Int = 2) -> [String] {
    let needle = Array(input.lowercased())
    let threshold = max(2, needle.count / 3)
    let scored = candidates.map { ($0, distance(needle, Array($0.lowercased()))) }
      .filter { $0.1 <= threshold || $0.0.lowercased().contains(input.lowercased()) && !input.isEmpty }
      .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
    return Array(scored.prefix(limit).map(\.0))
  }

  /// Edit distance counting a swap of two neighbours as one edit (optimal string alignment),
  /// so `rtx-4900` is closer to `rtx-4090` than to `rtx-4080`.
  static func distance(_ a: [Character], _ b: [Character]) -> Int {
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { table[i][0] = i }
    for j in 0...b.count { table[0][j] = j }
    for i in 1...a.count {
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
        if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
          table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
        }
      }
    }
    return table[a.count][b.count]
  }
}

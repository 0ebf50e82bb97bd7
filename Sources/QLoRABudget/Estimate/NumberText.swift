/// Integers with thousands separators for formulas (`14,768,307,200`), locale-independent.
package enum NumberText {
  public static func grouped(_ value: Int64) -> String {
    let digits = String(value.magnitude)
    var result = ""
    for (offset, character) in digits.enumerated() {
      if offset > 0, (digits.count - offset) % 3 == 0 { result.append(",") }
      result.append(character)
    }
    return value < 0 ? "-" + result : result
  }
}

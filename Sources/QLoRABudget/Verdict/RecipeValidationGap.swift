/// A recipe whose published measurements the estimate does not reproduce: its figures are not
/// validated, and every estimate with it says so, with the errors measured (docs/validation.md,
/// "Expressed by a recipe"). ``measured`` is checked against the validation data by a test
/// (``ValidationReport/recipeValidationGaps``).
public struct RecipeValidationGap: Hashable, Sendable {
  /// The recipe's name.
  public let recipe: String
  /// Published rows compared.
  public let rowCount: Int
  /// The lowest and highest `(estimated - measured) / measured` over the rows, in percent,
  /// rounded to 0.01.
  public let lowestErrorPercent: Double
  public let highestErrorPercent: Double

  public init(recipe: String, rowCount: Int, lowestErrorPercent: Double, highestErrorPercent: Double) {
    self.recipe = recipe
    self.rowCount = rowCount
    self.lowestErrorPercent = lowestErrorPercent
    self.highestErrorPercent = highestErrorPercent
  }

  /// `recipe litgpt is not validated: against 11 published measurements its estimates were off by -41.07% ...`.
  public var description: String {
    "recipe \(recipe) is not validated: against \(rowCount) published measurements its estimates were off by "
      + "\(Self.signed(lowestErrorPercent)) to \(Self.signed(highestErrorPercent)) (estimated vs measured, "
      + "docs/validation.md); read its figures as indicative"
  }

  /// The gap of `recipe`, nil for a validated one.
  public static func of(_ recipe: Recipe) -> RecipeValidationGap? { measured.first { $0.recipe == recipe.name } }

  /// `+58.36%`, `-41.07%`.
  static func signed(_ percent: Double) -> String {
    let rounded = (percent * 100).rounded() / 100
    let text = String(Int64((abs(rounded) * 100).rounded()))
    let padded = String(repeating: "0", count: max(0, 3 - text.count)) + text
    return (rounded < 0 ? "-" : "+") + padded.dropLast(2) + "." + padded.suffix(2) + "%"
  }

  /// From Tests/Calibration/published (docs/validation.md): LitGPT rows 034-040, 049-052 (its own
  /// model code without activation checkpointing); torchtune rows 056-061 (model-init reserve,
  /// torch.compile).
  public static let measured: [RecipeValidationGap] = [
    RecipeValidationGap(recipe: "litgpt", rowCount: 11, lowestErrorPercent: -41.07, highestErrorPercent: -21.46),
    RecipeValidationGap(recipe: "torchtune", rowCount: 6, lowestErrorPercent: -44.26, highestErrorPercent: 42.14),
  ]
}

import Foundation

extension TestData {
  /// The folder of training config fixtures (see Fixtures/training-configs/SOURCES.md).
  static let trainingConfigs = packageRoot.appendingPathComponent("Tests/QLoRABudgetTests/Fixtures/training-configs")

  static func trainingConfig(_ name: String) throws -> Data {
    try Data(contentsOf: trainingConfigs.appendingPathComponent(name))
  }
}

import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Testing

/// Files the tests read: the repository's Tests/Calibration/ folder (Tests/Calibration/README.md says where
/// each file comes from).
enum TestData {
  static let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  static let calibrationDirectory = packageRoot.appendingPathComponent("Tests/Calibration")

  static func calibration(_ name: String) throws -> Data {
    try Data(contentsOf: calibrationDirectory.appendingPathComponent(name))
  }

  static func json(_ data: Data) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  }

  /// A model built from config members given as a Swift dictionary.
  static func model(_ config: [String: Any], name: String = "test") throws -> ModelArchitecture {
    let data = try JSONSerialization.data(withJSONObject: config)
    return try ModelArchitecture(configData: data, name: name)
  }
}

import Foundation
import Testing
import QLoRABudget

/// Files the tests read: ../shared beside the checkout (as CI has it), else a copy in Fixtures/.
enum TestData {
  static let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  static func calibration(_ name: String) throws -> Data {
    let shared = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/calibration/\(name)")
    if let data = try? Data(contentsOf: shared) { return data }
    let fixture = packageRoot.appendingPathComponent("Tests/QLoRABudgetTests/Fixtures/\(name)")
    return try Data(contentsOf: fixture)
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

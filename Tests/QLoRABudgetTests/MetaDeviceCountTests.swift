import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// Each preset's architecture against transformers itself: the parameters of the model built on
/// PyTorch's meta device from the preset's keys, and the modules peft's `all-linear` rule adapts
/// there, in transformers 5 (fused experts) and 4.57 (experts as `nn.Linear`).
///
/// The figures are the output of `Tests/QLoRABudgetTests/Fixtures/families/meta_counts.py`
/// (its docstring has the commands), kept in `meta-counts-tf5.json` and `meta-counts-tf4.json`
/// beside it with the transformers and peft versions that made them.
@Suite struct MetaDeviceCountTests {
  struct Counts {
    let parameters: Int64
    let allLinearModules: Int64
    let loraRank16Parameters: Int64
    let allLinearNames: Set<String>
  }

  static let folder = TestData.packageRoot.appendingPathComponent("Tests/QLoRABudgetTests/Fixtures/families")

  static func counts(_ file: String) throws -> (transformers: String, models: [String: Counts]) {
    let json = try TestData.json(try Data(contentsOf: folder.appendingPathComponent(file)))
    let models = try #require(json["models"] as? [String: [String: Any]])
    var result: [String: Counts] = [:]
    for (name, entry) in models {
      result[name] = Counts(
        parameters: try #require(entry["parameters"] as? Int64),
        allLinearModules: try #require(entry["all_linear_modules"] as? Int64),
        loraRank16Parameters: try #require(entry["lora_r16_parameters"] as? Int64),
        allLinearNames: Set(try #require(entry["all_linear_names"] as? [String])))
    }
    return (try #require(json["transformers"] as? String), result)
  }

  static let presets: [String] = (try? counts("meta-counts-tf5.json").models.keys.sorted()) ?? []

  @Test func theFixturesComeFromTheTransformersVersionsTheRecipesModel() throws {
    #expect(try Self.counts("meta-counts-tf5.json").transformers.hasPrefix("5."))
    #expect(try Self.counts("meta-counts-tf4.json").transformers.hasPrefix("4."))
    #expect(
      Self.presets.contains("glm-4.5-air") && Self.presets.contains("llama-4-scout")
        && Self.presets.contains("llama-4-maverick"))
  }

  @Test(arguments: Self.presets)
  func parametersAndAllLinearTargetsEqualTransformersOnTheMetaDevice(_ name: String) throws {
    let model = try PresetCatalog.bundled.model(named: name)
    for (file, recipe) in [
      ("meta-counts-tf5.json", Recipe.hfPeft), ("meta-counts-tf4.json", Recipe.hfPeftTransformers4),
    ] {
      guard let expected = try Self.counts(file).models[name] else { continue }
      #expect(model.parameterCount == expected.parameters, "\(file)")
      let adapted = try model.adaptedModules(.allLinear, roles: recipe.linearRoles)
      #expect(adapted.reduce(0) { $0 + $1.instanceCount } == expected.allLinearModules, "\(file)")
      #expect(Set(ModuleInventory.names(of: adapted)) == expected.allLinearNames, "\(file)")
      let lora = model.loraTensors(on: adapted, configuration: LoRAConfiguration(rank: 16), dtype: .float32)
      #expect(lora.reduce(0) { $0 + $1.elements } == expected.loraRank16Parameters, "\(file)")
    }
  }
}

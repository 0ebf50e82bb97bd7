import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Testing

/// The resident bytes against what transformers + bitsandbytes + peft really allocate
/// (Tests/Calibration/hf-peft-bnb-bytes.json): every figure must match to the byte.
@Suite struct CalibrationBytesTests {
  struct Case: CustomStringConvertible, @unchecked Sendable {
    let model: String
    let build: String
    let config: [String: Any]
    let figures: [String: Any]
    var description: String { "\(model)/\(build)" }
  }

  static let cases: [Case] = {
    guard let data = try? TestData.calibration("hf-peft-bnb-bytes.json"),
      let root = try? JSONSerialization.jsonObject(with: data) as? [String: [String: Any]]
    else { return [] }
    var cases: [Case] = []
    for (model, entry) in root.sorted(by: { $0.key < $1.key }) {
      guard var config = entry["config"] as? [String: Any] else { continue }
      config["model_type"] = entry["model_type"]
      for (build, layers) in [("one_layer", 1), ("two_layers", 2), ("full_model", nil as Int?)] {
        guard let figures = entry[build] as? [String: Any] else { continue }
        var layered = config
        if let layers { layered["num_hidden_layers"] = layers }
        cases.append(Case(model: model, build: build, config: layered, figures: figures))
      }
    }
    return cases
  }()

  @Test func everyCalibrationModelIsCovered() {
    #expect(Self.cases.count == 36)
  }

  @Test(arguments: cases)
  func parameterTotal(_ c: Case) throws {
    let model = try TestData.model(c.config, name: c.model)
    let expected = try #require(c.figures["total_params"] as? Int64)
    #expect(model.parameterCount == expected)
  }

  @Test(arguments: cases)
  func loadedFourBitBytes(_ c: Case) throws {
    let model = try TestData.model(c.config, name: c.model)
    let loaded = try #require(c.figures["loaded_4bit"] as? [String: Any])
    var setup = TrainingSetup()
    setup.recipe = .llamaFactory  // leaves every non-4-bit tensor in bf16, as loading does
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    try expectWeights(estimate, model: model, figures: loaded, unquantizedWidth: 2)
  }

  @Test(arguments: cases)
  func afterPrepareModelForKbitTraining(_ c: Case) throws {
    let model = try TestData.model(c.config, name: c.model)
    let prepared = try #require(c.figures["after_prepare_model_for_kbit_training"] as? [String: Any])
    let estimate = try MemoryEstimator.estimate(model: model, setup: TrainingSetup(), gpu: nil)
    try expectWeights(estimate, model: model, figures: prepared, unquantizedWidth: 4)
  }

  private func expectWeights(
    _ estimate: MemoryEstimate, model: ModelArchitecture, figures: [String: Any], unquantizedWidth: Int64
  ) throws {
    let packed = try #require(figures["quantized_packed"] as? Int64)
    let quantState = try #require(figures["quant_state"] as? Int64)
    let unquantized = try #require(figures["unquantized"] as? Int64)
    let buffers = try #require(figures["buffers"] as? Int64)
    let quantizedElements = try #require(figures["quantized_params"] as? Int64)

    #expect(model.inventory.linearWeightElements == quantizedElements)
    // Packed codes: one byte per two elements of every quantized weight (all shapes here are even).
    #expect(quantizedElements / 2 == packed)
    #expect(estimate.bytes(of: .quantizedWeights) == ByteCount(packed + quantState))
    #expect(model.inventory.bufferBytes == ByteCount(buffers))
    #expect(estimate.bytes(of: .unquantizedWeights) == ByteCount(unquantized + buffers))
    let unquantizedElements = model.parameterCount - quantizedElements
    #expect(unquantizedElements * unquantizedWidth == unquantized)
  }

  @Test(arguments: cases)
  func peftTrainableParameters(_ c: Case) throws {
    let model = try TestData.model(c.config, name: c.model)
    let lora = try #require(c.figures["lora_trainable_params"] as? [String: [String: Any]])
    let setups: [String: LoRAConfiguration] = [
      "r16-all-linear": LoRAConfiguration(rank: 16, targets: .allLinear),
      "r64-all-linear": LoRAConfiguration(rank: 64, targets: .allLinear),
      "r8-qv": LoRAConfiguration(rank: 8, targets: .modules(["q_proj", "v_proj"])),
    ]
    for (key, configuration) in setups {
      let figures = try #require(lora[key])
      var setup = TrainingSetup()
      setup.lora = configuration
      if figures["error"] != nil {
        #expect(throws: SetupError.self) { try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil) }
        continue
      }
      let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
      let params = try #require(figures["params"] as? Int64)
      let bytes = try #require(figures["bytes"] as? Int64)
      #expect(estimate.trainableParameters == params, "\(key)")
      #expect(estimate.bytes(of: .adapters) == ByteCount(bytes), "\(key)")
      let expectedTargets = try #require(figures["targets"] as? [String])
      let adapted = Set(try model.adaptedModules(configuration.targets, roles: setup.recipe.linearRoles).map(\.name))
      #expect(adapted == Set(expectedTargets), "\(key)")
    }
  }
}

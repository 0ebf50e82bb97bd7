import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs
@testable import QLoRABudgetValidation

/// peft's rewrite of LoRA targets on the MoE families transformers 5 fused (PeftExpertTargets),
/// against what `get_peft_model` really builds: `Fixtures/families/peft-moe-targets-tf5.json`,
/// made on the meta device by `peft_moe_targets.py` beside it (its docstring has the command;
/// transformers 5.25.0, peft 0.21.2), and the held-out `qwen3-moe-tiny` CPU steps.
@Suite struct PeftExpertTargetsTests {
  static let fixture = "peft-moe-targets-tf5.json"

  static func models() throws -> [String: [String: Any]] {
    let url = MetaDeviceCountTests.folder.appendingPathComponent(fixture)
    let json = try TestData.json(try Data(contentsOf: url))
    #expect(json["peft"] as? String == "0.21.2")
    return try #require(json["models"] as? [String: [String: Any]])
  }

  static let presets: [String] = (try? models().keys.sorted()) ?? []

  /// LoRA parameters at r = 16 of `targets` under `recipe`.
  static func loraParameters(_ model: ModelArchitecture, _ targets: LoRATargets, _ recipe: Recipe) throws -> Int64 {
    let set = try model.loraTargets(targets, recipe: recipe)
    let tensors =
      model.loraTensors(on: set.modules, configuration: LoRAConfiguration(rank: 16), dtype: .float32)
      + model.loraTensors(on: set.parameters, rank: 16, dtype: .float32)
    return tensors.reduce(0) { $0 + $1.elements }
  }

  /// Every MoE preset: all-linear as peft's string (hf-peft, trl) and as the framework's list of
  /// linear names (llama-factory, axolotl, ms-swift) adapt exactly the parameters peft creates.
  @Test(arguments: Self.presets)
  func loraParametersEqualWhatPeftBuilds(_ name: String) throws {
    let entry = try #require(try Self.models()[name])
    let model = try PresetCatalog.bundled.model(named: name)
    let string = try #require(entry["all_linear"] as? [String: Any])
    let names = try #require(entry["linear_names"] as? [String: Any])
    for recipe in [Recipe.hfPeft, .trl] {
      #expect(try Self.loraParameters(model, .allLinear, recipe) == string["total"] as? Int64, "\(recipe.name)")
    }
    for recipe in [Recipe.llamaFactory, .axolotl, .msSwift] {
      #expect(try Self.loraParameters(model, .allLinear, recipe) == names["total"] as? Int64, "\(recipe.name)")
    }
    // The names peft keeps as target_modules are the nn.Linear modules still adapted.
    let kept = Set(try #require(string["targets"] as? [String]))
    let modules = try model.loraTargets(.allLinear, recipe: .hfPeft).modules
    #expect(Set(ModuleInventory.names(of: modules)) == kept)
  }

  /// Qwen3-30B-A3B (48 layers, hidden 2,048, 32 query and 4 key/value heads of 128, 128 experts
  /// of 768), r = 16, written out: per layer q 16 x (2,048 + 4,096), k and v 16 x (2,048 + 512),
  /// o 16 x (4,096 + 2,048); gate_up_proj 32 x 128 x (2,048 + 1,536), down_proj 16 x 128 x (768 +
  /// 2,048), the router 16 x (2,048 + 128).
  @Test func qwen3ThirtyBArithmetic() throws {
    let attention: Int64 = 16 * (2048 + 4096) + 2 * 16 * (2048 + 512) + 16 * (4096 + 2048)
    let experts: Int64 = 32 * 128 * (2048 + 1536) + 16 * 128 * (768 + 2048)
    let router: Int64 = 16 * (2048 + 128)
    let expected = 48 * (attention + experts + router)
    #expect(expected == 996_507_648)  // peft's count (the fixture)
    let measured = try #require(try Self.models()["qwen3-30b-a3b"]?["all_linear"] as? [String: Any])
    #expect(measured["total"] as? Int64 == expected)
    let model = try PresetCatalog.bundled.model(named: "qwen3-30b-a3b")
    #expect(try Self.loraParameters(model, .allLinear, .hfPeft) == expected)
    // transformers 4 keeps peft's naming rule: q/k/v/o, 128 x gate/up/down nn.Linear and the router.
    let tf4 = attention + 128 * (2 * 16 * (2048 + 768) + 16 * (768 + 2048)) + router
    #expect(try Self.loraParameters(model, .allLinear, .hfPeftTransformers4) == 48 * tf4)
  }

  /// DeepSeek-V3 (61 layers, 3 dense, hidden 7,168, 256 experts of 2,048; MLA q_lora_rank 1,536,
  /// kv_lora_rank 512, 128 heads of 128 + 64 query/key and 128 value widths), r = 16: attention
  /// in all 61 layers, the experts and the router in the 58 sparse ones, no dense or shared MLP.
  @Test func deepSeekV3Arithmetic() throws {
    let attention: Int64 =
      16 * (7168 + 1536) + 16 * (1536 + 128 * 192) + 16 * (7168 + 576) + 16 * (512 + 128 * 256)
      + 16 * (128 * 128 + 7168)
    let experts: Int64 = 32 * 256 * (7168 + 4096) + 16 * 256 * (2048 + 7168)
    let router: Int64 = 16 * (7168 + 256)
    let expected = 61 * attention + 58 * (experts + router)
    #expect(expected == 7_645_254_656)  // peft's count (the fixture)
    let model = try PresetCatalog.bundled.model(named: "deepseek-v3")
    #expect(try Self.loraParameters(model, .allLinear, .hfPeft) == expected)
    // LLaMA-Factory hands peft the linear names: the router (not nn.Linear in transformers 5) is not among them.
    #expect(try Self.loraParameters(model, .allLinear, .llamaFactory) == expected - 58 * router)
  }

  /// Mixtral-8x7B (32 layers, hidden 4,096, 8 experts of 14,336, 8 key/value heads of 128): peft
  /// adds `mixtral` to transformers' patterns itself; w1 + w3 fuse into gate_up_proj.
  @Test func mixtralArithmetic() throws {
    let attention: Int64 = 2 * 16 * (4096 + 4096) + 2 * 16 * (4096 + 1024)
    let experts: Int64 = 32 * 8 * (4096 + 2 * 14336) + 16 * 8 * (14336 + 4096)
    let router: Int64 = 16 * (4096 + 8)
    let model = try PresetCatalog.bundled.model(named: "mixtral-8x7b")
    #expect(try Self.loraParameters(model, .allLinear, .hfPeft) == 32 * (attention + experts + router))
    #expect(32 * (attention + experts + router) == 359_665_664)  // peft's count
    // Named w1 and w3 with the attention: no router, no down_proj.
    let named = try model.loraTargets(.modules(["q_proj", "v_proj", "w1", "w3"]), recipe: .hfPeft)
    #expect(named.parameters.map(\.rankMultiple) == [2] && named.modules.map(\.name) == ["q_proj", "v_proj"])
  }

  /// One of a fused pair without the other: peft raises ValueError, so does the estimate
  /// (the fixture holds peft's message).
  @Test func halfAFusedPairIsRefused() throws {
    for (name, half, other) in [("qwen3-30b-a3b", "gate_proj", "up_proj"), ("mixtral-8x7b", "w1", "w3")] {
      let message = try #require(try Self.models()[name]?["partial_pair_error"] as? String)
      #expect(message.contains("without also targeting \(other)"))
      let model = try PresetCatalog.bundled.model(named: name)
      #expect(
        throws: SetupError.partialFusedExpertTargets(
          named: [half], missing: [other], fused: "gate_up_proj", model: name)
      ) {
        try model.loraTargets(.modules(["q_proj", half]), recipe: .hfPeft)
      }
      // Under transformers 4 the same names are nn.Linear modules, adapted as such.
      #expect(try model.loraTargets(.modules(["q_proj", half]), recipe: .hfPeftTransformers4).parameters.isEmpty)
    }
  }

  /// lora_dropout above 0 (the default 0.05) makes peft raise at get_peft_model (the fixture holds
  /// the message): the estimate says so beside the verdict and among its warnings; dropout 0 or
  /// transformers 4 do not.
  @Test func dropoutWithExpertAdaptersIsAWarning() throws {
    let message = try #require(try Self.models()["qwen3-30b-a3b"]?["dropout_error"] as? String)
    #expect(message.contains("does not work with lora_dropout != 0"))
    let model = try PresetCatalog.bundled.model(named: "qwen3-30b-a3b")
    var setup = TrainingSetup()
    let gpu = try PresetCatalog.bundled.gpu(named: "h100-80gb")
    let failing = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
    #expect(failing.warnings.contains { $0.contains("raises ValueError") && $0.contains("lora_dropout 0.05") })
    #expect(failing.notes.contains { $0.contains("raises ValueError") })
    setup.lora.givenDropout = 0
    #expect(
      !(try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)).warnings.contains {
        $0.contains("ValueError")
      })
    setup.lora.givenDropout = 0.05
    setup.recipe = .hfPeftTransformers4
    #expect(
      !(try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)).warnings.contains {
        $0.contains("ValueError")
      })
  }

  /// What adapting the stacks adds to a sparse layer's saved tensors, measured by a
  /// `saved_tensors_hooks` walk of the one-layer qwen3-moe-tiny build without checkpointing
  /// (Tests/Calibration/measured/README.md, r = 8, 256 tokens, k = 4): the merged stacks 16 x 2 x
  /// 512 x 1,024 x 4 and 16 x 512 x 1,024 x 4, grouped_mm's fp32 inputs 1,024 x 1,024 x 4 and 1,024
  /// x 512 x 4, the router's bf16 input 256 x 1,024 x 2 and its adapters' bf16 casts 8 x 1,024 x 2
  /// and 16 x 8 x 2; and the router's merged weight as F.linear saves it, 16 x 1,024 x 2 (bf16
  /// base), which that walk did not list and Tests/Calibration/measured/router_merged_walk.py
  /// finds saved.
  @Test func savedTensorsOfAdaptedStacks() throws {
    let entry = try Self.heldOut()["qwen3-moe-tiny-s256-b1-r8-nogc-sdpa-nodrop"]
    let (model, setup) = try CalibrationValidation.cpuStepSetup(try #require(entry), name: "tiny")
    var attentionOnly = setup
    attentionOnly.lora.targets = .modules(["q_proj", "k_proj", "v_proj", "o_proj"])
    let all = try MemoryEstimator.stepProfile(model: model, setup: setup).savedForBackward
    let some = try MemoryEstimator.stepProfile(model: model, setup: attentionOnly).savedForBackward
    let added: Int64 =
      16 * 2 * 512 * 1024 * 4 + 16 * 512 * 1024 * 4 + 1024 * 1024 * 4 + 1024 * 512 * 4 + 256 * 1024 * 2 + 8 * 1024 * 2
      + 16 * 8 * 2 + 16 * 1024 * 2
    #expect(all - some == ByteCount(8 * added))  // 8 layers
  }

  /// The held-out qwen3-moe-tiny steps: every phase within 2% of the measurement.
  @Test func heldOutStepsAreWithinTwoPercent() throws {
    let report = try CalibrationValidation.run(
      cpuSteps: nil, cpuOutOfSample: try TestData.calibration("cpu-steps/out-of-sample.json"), gpuRuns: [],
      gpuModels: nil, published: nil)
    let rows = report.rows.filter { $0.caseName.hasPrefix("qwen3-moe-tiny") }
    #expect(rows.count == 12)
    for row in rows {
      #expect(abs(row.errorPercent) <= 2, "\(row.caseName) \(row.figure) \(row.errorPercent)")
    }
  }

  static func heldOut() throws -> [String: [String: Any]] {
    try #require(
      try TestData.json(try TestData.calibration("cpu-steps/out-of-sample.json")) as? [String: [String: Any]])
  }
}

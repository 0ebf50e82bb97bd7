import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Testing

@Suite struct PresetCatalogTests {
  static let folder = TestData.packageRoot.appendingPathComponent("Presets")

  static func presetJSON(_ kind: String, _ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: folder.appendingPathComponent("\(kind)/\(name).json"))
    return try TestData.json(data)
  }

  @Test func theBinaryCarriesExactlyThePresetsFolder() throws {
    let fromFolder = try PresetCatalog(directory: Self.folder)
    // If this fails, run `swift run embed-presets` and commit the regenerated file.
    #expect(PresetCatalog.bundled.modelTexts == fromFolder.modelTexts)
    #expect(PresetCatalog.bundled.gpuTexts == fromFolder.gpuTexts)
  }

  @Test func coversTheFamiliesAndCardsOurUsersAskAbout() {
    let catalog = PresetCatalog.bundled
    #expect(catalog.modelNames.count >= 40)
    #expect(catalog.gpuNames.count >= 25)
    for required in ["qwen3-14b", "llama-65b", "mixtral-8x7b", "qwen3-30b-a3b", "phi-3-mini-4k", "gemma-2-9b", "gpt2"] {
      #expect(catalog.modelNames.contains(required), "\(required)")
    }
    for required in ["t4", "l4", "a10g", "rtx-4090", "a100-80gb", "h100-80gb", "mi300x"] {
      #expect(catalog.gpuNames.contains(required), "\(required)")
    }
  }

  @Test(arguments: PresetCatalog.bundled.modelNames)
  func everyModelPresetDecodesWithoutWarnings(_ name: String) throws {
    let model = try PresetCatalog.bundled.model(named: name)
    #expect(model.warnings.isEmpty)
    let json = try Self.presetJSON("models", name)
    #expect((json["source"] as? String)?.isEmpty == false)
    // Where the preset states a published total, the architecture must reproduce it exactly.
    if let published = json["parameter_count"] as? Int64 {
      #expect(model.parameterCount == published)
    }
  }

  @Test(arguments: PresetCatalog.bundled.gpuNames)
  func everyGPUPresetStatesItsCapacityInMiBWithASource(_ name: String) throws {
    let gpu = try PresetCatalog.bundled.gpu(named: name)
    let json = try Self.presetJSON("gpus", name)
    let mib = try #require(json["memory_mib"] as? Int64)
    #expect(gpu.capacity == ByteCount(mib * 1_048_576))
    #expect(!gpu.source.isEmpty)
  }

  /// Totals published by the model authors, written out here (not read from the presets).
  @Test(
    arguments: [
      ("llama-2-7b", 6_738_415_616), ("llama-3.1-8b", 8_030_261_248), ("qwen3-14b", 14_768_307_200),
      ("gpt2", 124_439_808), ("mixtral-8x7b", 46_702_792_704), ("llama-2-70b", 68_976_648_192),
      ("llama-3.1-405b", 405_853_388_800), ("gemma-7b", 8_537_680_896),
      // microsoft/Phi-4-mini-instruct's safetensors headers at revision cfbefacb, as recorded by a
      // public script; tied embeddings counted once.
      ("phi-4-mini", 3_836_021_760),
    ] as [(String, Int64)])
  func publishedParameterTotals(_ name: String, _ total: Int64) throws {
    #expect(try PresetCatalog.bundled.model(named: name).parameterCount == total)
  }

  /// Totals the model authors publish in whole billions (cut, not rounded), written out here.
  /// GLM-4.5-Air: "106 billion total parameters and 12 billion active" (zai-org/GLM-4.5 README;
  /// transformers docs/source/en/model_doc/glm4_moe.md); its multi-token-prediction layer, which
  /// transformers does not load, is not in the total. Active: all but 120 of the 128 experts'
  /// share, without the embedding and lm_head (2 x 151,552 x 4,096).
  @Test(arguments: [("glm-4.5-air", 106, 12)] as [(String, Int64, Int64)])
  func publishedTotalsInBillions(_ name: String, _ billions: Int64, _ activeBillions: Int64) throws {
    let model = try PresetCatalog.bundled.model(named: name)
    #expect(model.parameterCount / 1_000_000_000 == billions)
    let moe = try #require(model.layout.mixtureOfExperts)
    let experts = model.inventory.linears.filter { $0.role == .expert }.reduce(0) {
      $0 + $1.weightElements * $1.instanceCount
    }
    let idle = experts / moe.expertCount * (moe.expertCount - moe.expertsPerToken)
    #expect((model.parameterCount - idle - model.inventory.embeddingElements) / 1_000_000_000 == activeBillions)
  }

  /// gpt-oss model card (OpenAI, arXiv 2508.10925) Table 1, in billions to two decimals: MLP
  /// (experts and router), attention (q/k/v/o and sinks), embedding + unembedding, total, and
  /// active (all but the idle experts' share, without the input embedding).
  @Test(
    arguments: [
      ("gpt-oss-20b", [1912, 64, 116, 2091, 361]), ("gpt-oss-120b", [11471, 96, 116, 11683, 513]),
    ] as [(String, [Int64])])
  func gptOssModelCardTable(_ name: String, _ hundredths: [Int64]) throws {
    let model = try PresetCatalog.bundled.model(named: name)
    let inventory = model.inventory
    func total(_ prefix: String) -> Int64 {
      inventory.linears.filter { $0.path.hasPrefix(prefix) }.reduce(0) {
        $0 + ($1.weightElements + ($1.hasBias ? $1.outFeatures : 0)) * $1.instanceCount
      }
    }
    let sinks = inventory.norms.filter { $0.path == "self_attn.sinks" }.reduce(0) { $0 + $1.totalElements }
    let moe = try #require(model.layout.mixtureOfExperts)
    let experts = total("mlp.experts")
    let idle = experts / moe.expertCount * (moe.expertCount - moe.expertsPerToken)
    let figures = [
      total("mlp."), total("self_attn.") + sinks, inventory.embeddingElements, model.parameterCount,
      model.parameterCount - idle - inventory.tokenEmbeddingElements,
    ]
    #expect(figures.map { ($0 + 5_000_000) / 10_000_000 } == hundredths)
  }

  /// Llama 4 model card (meta-llama/Llama-4-Scout-17B-16E, Llama-4-Maverick-17B-128E): 17B active
  /// and 109B / 400B total parameters, the multimodal model's. The presets are the text model; the
  /// vision tower (850,960,896) and projector (20,971,520) are transformers 5.25's meta-device count
  /// of `Llama4ForConditionalGeneration` with the checkpoints' vision_config (hidden 1408, 34
  /// layers, intermediate 5632, 16 heads, image 336, patch 14, vision_output_dim and projector
  /// dims 4096, pixel_shuffle_ratio 0.5). Scout's whole model, 108,641,793,536, rounds to 109B;
  /// Maverick's, 401,583,781,376, is what Meta calls 400B. Active: attention, norms, the shared
  /// expert, the router and one expert per sparse layer, dense MLPs, embedding and lm_head, written
  /// out below from the configs.
  @Test(
    arguments: [
      (
        "llama-4-scout", Int64(108_641_793_536), Int64(109),
        // 48 x (attention 5120 x 12288 + norms 2 x 5120 + shared and one expert 2 x 3 x 5120 x 8192 + router 5120 x 16)
        48 * (5120 * 12288 + 2 * 5120 + 2 * 3 * 5120 * 8192 + 5120 * 16)
      ),
      (
        "llama-4-maverick", Int64(401_583_781_376), Int64(400),
        // 24 sparse layers (router 5120 x 128) + 24 dense layers (3 x 5120 x 16384)
        24 * (5120 * 12288 + 2 * 5120 + 2 * 3 * 5120 * 8192 + 5120 * 128) + 24
          * (5120 * 12288 + 2 * 5120 + 3 * 5120 * 16384)
      ),
    ] as [(String, Int64, Int64, Int64)])
  func llama4ModelCard(_ name: String, _ multimodal: Int64, _ billions: Int64, _ activeLayers: Int64) throws {
    let model = try PresetCatalog.bundled.model(named: name)
    let visionAndProjector: Int64 = 850_960_896 + 20_971_520
    #expect(model.parameterCount + visionAndProjector == multimodal)
    #expect(abs(multimodal - billions * 1_000_000_000) < 2_000_000_000)
    let active = activeLayers + 5120 + 2 * 202_048 * 5120
    #expect(active / 1_000_000_000 == 17)
    let moe = try #require(model.layout.mixtureOfExperts)
    let experts = model.inventory.linears.filter { $0.role == .expertParameter }.reduce(0) {
      $0 + $1.weightElements * $1.instanceCount
    }
    #expect(model.parameterCount - experts / moe.expertCount * (moe.expertCount - moe.expertsPerToken) == active)
  }

  @Test func unknownNamesSuggestTheClosestPreset() {
    #expect(throws: PresetError.unknownModel(name: "qwen3-14", suggestions: ["qwen3-14b", "qwen3-4b"])) {
      try PresetCatalog.bundled.model(named: "qwen3-14")
    }
    #expect(throws: PresetError.self) { try PresetCatalog.bundled.gpu(named: "rtx-9090") }
  }
}

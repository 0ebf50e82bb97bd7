import Foundation
import NF4Quantization
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// Properties of the estimator over random valid models and setups, each test from a fixed
/// SplitMix64 seed (reproducible; a failure message names the case). Fast: a few hundred cases.
@Suite struct PropertyTests {
  // MARK: - Generators

  /// A random config.json of one of the modelled families, small enough to be fast.
  static func randomConfig(_ random: inout SplitMix64, layers fixedLayers: Int? = nil) -> [String: JSONValue] {
    let families = [
      "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3", "olmo2",
      "mixtral", "qwen2_moe", "qwen3_moe", "gpt2",
    ]
    let family = families[random.next(in: 0...(families.count - 1))]
    let heads = [1, 2, 4, 8, 16, 32][random.next(in: 0...5)]
    let headDim = [16, 32, 64, 80, 128][random.next(in: 0...4)]
    let layers = fixedLayers ?? random.next(in: 1...48)
    let vocab = random.next(in: 16...160_000)
    func n(_ value: Int) -> JSONValue { .number(Double(value)) }
    if family == "gpt2" {
      var config: [String: JSONValue] = [
        "model_type": .string("gpt2"), "n_embd": n(heads * headDim), "n_head": n(heads), "n_layer": n(layers),
        "n_positions": n(random.next(in: 1...4096)), "vocab_size": n(vocab),
      ]
      if random.bool() { config["n_inner"] = n(random.next(in: 1...20_000)) }
      return config
    }
    let kvDivisors = [1, 2, 4, 8, 16, 32].filter { $0 <= heads && heads % $0 == 0 }
    var config: [String: JSONValue] = [
      "model_type": .string(family), "hidden_size": n(heads * headDim * random.next(in: 1...3)),
      "num_hidden_layers": n(layers), "num_attention_heads": n(heads), "head_dim": n(headDim),
      "num_key_value_heads": n(kvDivisors[random.next(in: 0...(kvDivisors.count - 1))]),
      "intermediate_size": n(random.next(in: 16...30_000)), "vocab_size": n(vocab),
      "tie_word_embeddings": .bool(random.bool()),
    ]
    if random.bool() { config["attention_bias"] = .bool(random.bool()) }
    switch family {
    case "mixtral":
      let experts = random.next(in: 2...16)
      config["num_local_experts"] = n(experts)
      config["num_experts_per_tok"] = n(random.next(in: 1...experts))
    case "qwen2_moe", "qwen3_moe":
      let experts = random.next(in: 2...64)
      config["num_experts"] = n(experts)
      config["num_experts_per_tok"] = n(random.next(in: 1...experts))
      config["moe_intermediate_size"] = n(random.next(in: 16...4096))
      config["decoder_sparse_step"] = n(random.next(in: 1...3))
      if family == "qwen2_moe" { config["shared_expert_intermediate_size"] = n(random.next(in: 0...8192)) }
    default: break
    }
    return config
  }

  /// A random setup for `model`: peft's default targets only where peft has them (it raises otherwise).
  static func randomSetup(_ random: inout SplitMix64, for model: ModelArchitecture) -> TrainingSetup {
    var setup = TrainingSetup()
    setup.quantization = BaseQuantization.allCases[random.next(in: 0...(BaseQuantization.allCases.count - 1))]
    setup.usesDoubleQuantization = random.bool()
    setup.blockSize = Int64(32 << random.next(in: 0...7))
    setup.lora = LoRAConfiguration(
      rank: Int64(random.next(in: 1...512)),
      targets: random.bool() || model.peftDefaultTargets == nil ? .allLinear : .peftDefault,
      usesDoRA: random.next(in: 0...3) == 0, dropout: random.bool() ? 0 : 0.1)
    setup.optimizer = Optimizer.allCases[random.next(in: 0...(Optimizer.allCases.count - 1))]
    setup.computeDtype = ComputeDtype.allCases[random.next(in: 0...(ComputeDtype.allCases.count - 1))]
    setup.recipe = Recipe.all[random.next(in: 0...(Recipe.all.count - 1))]
    setup.sequenceLength = Int64(random.next(in: 1...16_384))
    setup.batchSize = Int64(random.next(in: 1...32))
    setup.gradientCheckpointing = [nil, true, false][random.next(in: 0...2)]
    setup.attention =
      AttentionImplementation.allCases[random.next(in: 0...(AttentionImplementation.allCases.count - 1))]
    setup.usesAutocast = random.bool()
    setup.isFullFineTune = random.next(in: 0...9) == 0
    return setup
  }

  static func model(_ config: [String: JSONValue]) throws -> ModelArchitecture {
    try ModelArchitecture(config: config, name: "random")
  }

  /// Whether `a` needs at most what `b` needs: every figure, GPU and host, resident and peak.
  /// With a paged optimizer bitsandbytes pages the state of tensors of 10^5 elements or more to
  /// host memory, so a larger adapter can move state off the GPU (less GPU, more in all): then
  /// the GPU figures plus the host bytes are compared.
  static func noMore(_ a: MemoryEstimate, than b: MemoryEstimate) -> Bool {
    let paged = [Optimizer.pagedAdamw, .pagedAdamw8bit].contains(a.setup.optimizer)
    let (hostA, hostB) = paged ? (a.hostBytes, b.hostBytes) : (.zero, .zero)
    guard a.residentBytes + hostA <= b.residentBytes + hostB else { return false }
    guard paged || a.hostBytes <= b.hostBytes else { return false }
    let (peakA, peakB) = (a.peak, b.peak)
    // Reserved (and so the process peak) is the simulated caching allocator's: which cached block a
    // tensor lands in depends on every size before it, so a larger run can fragment less. The
    // allocated peak is monotone; the reserve only never falls below it.
    return peakA.allocated + hostA <= peakB.allocated + hostB && peakA.reserved >= peakA.allocated
      && peakB.reserved >= peakB.allocated
  }

  static func expectNoMore(
    _ smaller: MemoryEstimate, _ larger: MemoryEstimate, _ label: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let holds = noMore(smaller, than: larger)
    #expect(holds, "\(label): \(describe(smaller)) -> \(describe(larger))", sourceLocation: sourceLocation)
  }

  static func describe(_ estimate: MemoryEstimate) -> String {
    let parts = estimate.components.map { "\($0.kind.rawValue)/\($0.device.rawValue)=\($0.bytes.bytes)" }
    let peak = "peak \(estimate.peak.allocated.bytes)/\(estimate.peak.reserved.bytes)/\(estimate.peak.process.bytes)"
    return
      "rank \(estimate.setup.lora.rank) \(estimate.setup.optimizer) \(estimate.setup.recipe.name) \(estimate.model.modelType) \(peak) [\(parts.joined(separator: " "))]"
  }

  // MARK: - Properties

  /// Every total is the exact sum of its components, in checked 64-bit arithmetic.
  @Test func componentsSumToTheTotalsExactly() throws {
    var random = SplitMix64(seed: 0x5EED_0001)
    for index in 0..<300 {
      let config = Self.randomConfig(&random)
      let model = try Self.model(config)
      let setup = Self.randomSetup(&random, for: model)
      let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
      var resident: Int64 = 0
      var host: Int64 = 0
      var byKind: [MemoryComponent.Kind: Int64] = [:]
      for component in estimate.components {
        let bytes = component.bytes.bytes
        #expect(bytes >= 0 && bytes < Int64.max, "case \(index)")
        if component.device == .host {
          host += bytes
        } else {
          byKind[component.kind, default: 0] += bytes
          if component.lifetime == .resident { resident += bytes }
        }
      }
      #expect(estimate.residentBytes.bytes == resident, "case \(index): \(config) \(setup)")
      #expect(estimate.hostBytes.bytes == host, "case \(index)")
      for (kind, bytes) in byKind {
        #expect(estimate.bytes(of: kind).bytes == bytes, "case \(index) \(kind)")
      }
      let peak = estimate.peak
      #expect(peak.allocated >= estimate.residentBytes, "case \(index): the peak holds the resident bytes")
      #expect(peak.reserved >= peak.allocated && peak.process >= peak.reserved, "case \(index)")
      // The parts charts draw sum to the process peak the text prints.
      #expect(ByteCount.sum(estimate.peakParts.map(\.bytes)) == peak.process, "case \(index)")
    }
  }

  /// More rank, tokens, batch or layers never need less memory.
  @Test func moreRankTokensBatchOrLayersNeverNeedLess() throws {
    var random = SplitMix64(seed: 0x5EED_0002)
    for index in 0..<150 {
      let layers = random.next(in: 1...40)
      var generator = random  // the same config with more layers
      let config = Self.randomConfig(&random, layers: layers)
      let deeper = Self.randomConfig(&generator, layers: layers + random.next(in: 1...8))
      let model = try Self.model(config)
      var setup = Self.randomSetup(&random, for: model)
      setup.isFullFineTune = false
      let base = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)

      var larger = setup
      larger.lora.rank += Int64(random.next(in: 1...256))
      Self.expectNoMore(base, try MemoryEstimator.estimate(model: model, setup: larger, gpu: nil), "case \(index) rank")
      larger = setup
      larger.sequenceLength += Int64(random.next(in: 1...8192))
      Self.expectNoMore(
        base, try MemoryEstimator.estimate(model: model, setup: larger, gpu: nil), "case \(index) tokens")
      larger = setup
      larger.batchSize += Int64(random.next(in: 1...16))
      Self.expectNoMore(
        base, try MemoryEstimator.estimate(model: model, setup: larger, gpu: nil), "case \(index) batch")
      let deeperEstimate = try MemoryEstimator.estimate(model: try Self.model(deeper), setup: setup, gpu: nil)
      Self.expectNoMore(base, deeperEstimate, "case \(index) layers: \(config) -> \(deeper)")
    }
  }

  /// Double quantization stores each block's absmax in 1 byte instead of 4 but adds, per
  /// weight, 4 x ceil(nb / 256) nested absmax + 1,024 (nested code) + 4 (offset) bytes. So it
  /// saves memory exactly when 3 nb >= 4 ceil(nb / 256) + 1028: per weight, exactly then.
  @Test func doubleQuantizationSavesExactlyWhenAWeightHasEnoughBlocks() {
    var random = SplitMix64(seed: 0x5EED_0003)
    for _ in 0..<2000 {
      let elements = Int64(random.next(in: 1...(1 << 24)))
      let block = Int64(32 << random.next(in: 0...7))
      let with = FourBitWeightBuffers(elementCount: elements, blockSize: block, doubleQuantization: true).total
      let without = FourBitWeightBuffers(elementCount: elements, blockSize: block, doubleQuantization: false).total
      let blocks = (elements + block - 1) / block
      let saves = 3 * blocks >= 4 * ((blocks + 255) / 256) + 1028
      #expect((with <= without) == saves, "\(elements) elements in blocks of \(block)")
    }
  }

  /// DQ never needs more than no DQ for models whose every quantized weight has enough blocks
  /// (real models: a 4096 x 1024 weight in blocks of 4096 already has 1,024).
  @Test func doubleQuantizationNeverNeedsMoreOnRealisticModels() throws {
    var random = SplitMix64(seed: 0x5EED_0004)
    var compared = 0
    for index in 0..<400 {
      let model = try Self.model(Self.randomConfig(&random))
      var setup = Self.randomSetup(&random, for: model)
      setup.isFullFineTune = false
      setup.quantization = random.bool() ? .nf4 : .fp4
      // bitsandbytes' switch: torchao's NF4Tensor always quantizes its scalers (no such option).
      guard setup.recipe.fourBitLayout == .bitsandbytes else { continue }
      let minimumBlocks =
        model.inventory.linears(in: setup.recipe.linearRoles)
        .map { ($0.weightElements + setup.blockSize - 1) / setup.blockSize }.min() ?? 0
      guard minimumBlocks >= 346 else { continue }  // 3 x 346 > 4 x 2 + 1028
      compared += 1
      setup.usesDoubleQuantization = true
      let with = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
      setup.usesDoubleQuantization = false
      let without = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
      Self.expectNoMore(with, without, "case \(index) DQ")
      #expect(with.bytes(of: .quantizedWeights) < without.bytes(of: .quantizedWeights), "case \(index)")
    }
    #expect(compared >= 50)
  }

  /// Issue 6: a model of about 10^12 parameters with rank 4,096, batch 1,024 and 2^20 tokens is
  /// computed without overflow (every component checked against an independent Double figure),
  /// and the largest setups the tool accepts are computed or refused with SetupError.overflow.
  @Test func aTrillionParameterModelWithTheLargestSetups() throws {
    // 64 layers, hidden 32,768, 256 heads of 128, MLP 131,072: 64 x (4 x 2^30 + 3 x 2^32) + 2 x 2^32 x ... ~ 1.1 x 10^12.
    let config: [String: JSONValue] = [
      "model_type": .string("llama"), "hidden_size": .number(32_768), "num_hidden_layers": .number(64),
      "num_attention_heads": .number(256), "num_key_value_heads": .number(256), "intermediate_size": .number(131_072),
      "vocab_size": .number(262_144),
    ]
    let model = try Self.model(config)
    #expect(model.parameterCount > 1_000_000_000_000)
    var setup = TrainingSetup()
    setup.lora.rank = 4096
    setup.batchSize = 1024
    setup.sequenceLength = 1 << 20
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    for component in estimate.components {
      #expect(!component.bytes.isOverflow, "\(component.kind)")
    }
    // 4-bit weights are at least n / 2 bytes; adapters at least rank x (in + out) x 2 bytes (16-bit).
    let linearElements = Double(model.inventory.linears.reduce(0) { $0 + $1.weightElements * $1.instanceCount })
    #expect(Double(estimate.bytes(of: .quantizedWeights).bytes) >= linearElements / 2)
    let adapterElements = Double(estimate.trainableParameters)
    #expect(Double(estimate.bytes(of: .adapters).bytes) >= adapterElements * 2)
    #expect(Double(estimate.residentBytes.bytes) < 9.2e18)

    // Every limit at once, on this model, with and without full fine-tuning.
    for full in [false, true] {
      var extreme = TrainingSetup()
      extreme.isFullFineTune = full
      extreme.lora.rank = LoRAConfiguration.maximumRank
      extreme.lora.usesDoRA = true
      extreme.batchSize = TrainingSetup.maximumBatchSize
      extreme.sequenceLength = TrainingSetup.maximumSequenceLength
      extreme.computeDtype = .fp16
      do {
        let result = try MemoryEstimator.estimate(model: model, setup: extreme, gpu: nil)
        #expect(!result.residentBytes.isOverflow && result.components.allSatisfy { !$0.bytes.isOverflow })
      } catch {
        guard case .overflow = error else {
          Issue.record("unexpected error \(error)")
          continue
        }
        #expect(error.description.contains("overflow"))
      }
    }
  }
}

import Foundation
import NF4Quantization
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The fuzz seed corpus and every input a fuzzer found (Tests/Fuzz/), replayed as ordinary tests:
/// config.json and GPU preset texts, and sizes typed by a person. Each input must give a value or
/// a thrown error, never a trap; accepted values must satisfy the checks the harnesses make.
@Suite struct FuzzRegressionTests {
  /// Tests/Fuzz/<kind>/<harness>: the seed corpus or the regressions.
  static func inputs(_ kind: String, _ harness: String) -> [URL] {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fuzz").appendingPathComponent(kind).appendingPathComponent(harness)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return names.sorted().map { folder.appendingPathComponent($0) }
  }

  static let configInputs = inputs("corpus", "config") + inputs("regressions", "config")

  @Test func theCorpusIsThere() {
    #expect(Self.configInputs.count >= 20)
    #expect(Self.inputs("corpus", "size").count >= 20)
  }

  /// What the config harness does with every input (Tests/Fuzz/harnesses/config.swift).
  @Test(arguments: configInputs.map(\.lastPathComponent))
  func configInputGivesAModelOrAnError(_ name: String) throws {
    let url = try #require(Self.configInputs.first { $0.lastPathComponent == name })
    let data = try Data(contentsOf: url)
    let parsed: ModelArchitecture?
    do {
      parsed = try ModelArchitecture(configData: data, name: "fuzz")
    } catch {
      #expect(!error.description.contains("\n"), "one-line error: \(error)")
      parsed = nil
    }
    if let model = parsed {
      #expect(model.parameterCount > 0 && model.parameterCount <= ModelArchitecture.maximumParameterCount)
      for setup in Self.setups {
        let estimate: MemoryEstimate
        do {
          estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
        } catch {
          #expect(!error.description.isEmpty)
          continue
        }
        try Self.expectConsistent(estimate)
      }
    }
    if let text = String(data: data, encoding: .utf8) {
      let catalog = PresetCatalog(modelTexts: ["m": text], gpuTexts: ["g": text])
      if let gpu = try? catalog.gpu(named: "g") {
        #expect(gpu.capacity > .zero && !gpu.capacity.isOverflow)
      }
      _ = try? catalog.model(named: "m")
    }
  }

  static let setups: [TrainingSetup] = {
    var huge = TrainingSetup()
    huge.lora.rank = LoRAConfiguration.maximumRank
    huge.sequenceLength = TrainingSetup.maximumSequenceLength
    huge.batchSize = TrainingSetup.maximumBatchSize
    huge.lora.usesDoRA = true
    huge.usesDoubleQuantization = false
    huge.blockSize = 32
    var full = TrainingSetup()
    full.isFullFineTune = true
    return [TrainingSetup(), huge, full]
  }()

  /// No overflowed component slips through, and the totals are the sums of their components.
  static func expectConsistent(_ estimate: MemoryEstimate) throws {
    var resident: Int64 = 0
    var host: Int64 = 0
    for component in estimate.components {
      let bytes = component.bytes
      #expect(!bytes.isOverflow, "\(component.kind) overflowed without an error")
      if component.device == .host {
        let (sum, overflow) = host.addingReportingOverflow(bytes.bytes)
        try #require(!overflow)
        host = sum
      } else if component.lifetime == .resident {
        let (sum, overflow) = resident.addingReportingOverflow(bytes.bytes)
        try #require(!overflow)
        resident = sum
      }
    }
    #expect(estimate.residentBytes.bytes == resident)
    #expect(estimate.hostBytes.bytes == host)
  }

  // MARK: - Findings

  /// Found by the config harness (oom-moe-layer-filter-array.json): a Qwen-MoE config with
  /// 2^26 layers made the reader build an array of every layer index (512 MB) to count the
  /// sparse ones. The count is now arithmetic; this input must be read in well under a second
  /// and without that allocation.
  @Test func moeWithTheLargestLayerCountIsCountedNotEnumerated() throws {
    let config = """
      {"model_type":"qwen2_moe","hidden_size":64,"num_hidden_layers":67108864,"num_attention_heads":8,
       "intermediate_size":128,"moe_intermediate_size":32,"num_experts":4,"num_experts_per_tok":2,
       "decoder_sparse_step":3,"mlp_only_layers":[0,2,5,67108863,99999999],"vocab_size":100}
      """
    let clock = ContinuousClock()
    let start = clock.now
    let model = try ModelArchitecture(configData: Data(config.utf8), name: "moe")
    #expect(clock.now - start < .seconds(2))
    // Layers i with (i + 1) % 3 == 0: 2, 5, 8, ... : floor(2^26 / 3) of them; 2 and 5 are dense.
    // 67108863 is not sparse ((i + 1) % 3 = 1) and 99999999 is past the last layer.
    let expected: Int64 = 67_108_864 / 3 - 2
    #expect(model.layout.mixtureOfExperts?.sparseLayerCount == expected)
  }

  /// The sparse-layer count equals a plain enumeration for small layer counts.
  @Test func sparseLayerCountMatchesEnumeration() throws {
    var random = SplitMix64(seed: 6)
    for _ in 0..<200 {
      let layers = Int64(random.next(in: 1...40))
      let step = Int64(random.next(in: 1...5))
      let dense = (0..<random.next(in: 0...6)).map { _ in Int64(random.next(in: 0...45)) }
      let config = """
        {"model_type":"qwen3_moe","hidden_size":32,"num_hidden_layers":\(layers),"num_attention_heads":4,
         "intermediate_size":64,"moe_intermediate_size":16,"num_experts":4,"num_experts_per_tok":1,
         "decoder_sparse_step":\(step),"mlp_only_layers":\(dense),"vocab_size":50}
        """
      let model = try ModelArchitecture(configData: Data(config.utf8), name: "moe")
      let enumerated = (0..<layers).filter { !dense.contains($0) && ($0 + 1) % step == 0 }.count
      #expect(model.layout.mixtureOfExperts?.sparseLayerCount == Int64(enumerated), "\(layers) \(step) \(dense)")
    }
  }

  /// Found reading the limit check the fuzzer pointed at: a weight group whose parameter count
  /// is just under 2^63 passed the overflow check, and adding it to the running total trapped.
  /// hidden 2^26 - 1 and intermediate 2^26 - 1 over 2,048 layers: gate_proj alone is
  /// (2^26 - 1) x 2^26 x 2^11 = 2^63 - 2^37 parameters. Now refused with the limit error.
  @Test func aWeightGroupJustUnder2To63IsRefusedNotATrap() throws {
    let config = """
      {"model_type":"llama","hidden_size":67108863,"num_hidden_layers":2048,"num_attention_heads":1,
       "head_dim":1,"intermediate_size":67108863,"vocab_size":1}
      """
    #expect {
      _ = try ModelArchitecture(configData: Data(config.utf8), name: "edge")
    } throws: { error in
      "\(error)".contains("10^15")
    }
  }

  // MARK: - Sizes

  static let sizeInputs = inputs("corpus", "size") + inputs("regressions", "size")

  @Test func everySizeInputParsesInRangeOrThrows() throws {
    for url in Self.sizeInputs {
      let text = String(decoding: try Data(contentsOf: url), as: UTF8.self)
      do {
        let size = try ByteCount(parsing: text)
        #expect(size.bytes >= 1 && size <= ByteCount.maximumParsed, "\(text)")
        for system in ByteUnitSystem.allCases {
          let again = try ByteCount(parsing: size.formatted(system))
          #expect(abs(Double(again.bytes - size.bytes)) <= Double(size.bytes) * 0.005 + 1, "\(text)")
        }
      } catch {
        // One line, apart from line breaks in the echoed input itself.
        #expect(text.contains(where: \.isNewline) || !error.description.contains(where: \.isNewline), "\(error)")
      }
    }
  }
}

/// Test helpers on the engine's seeded generator (NF4Quantization.SplitMix64), so every random
/// test is reproducible from its seed.
extension SplitMix64 {
  mutating func next(in range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
  mutating func bool() -> Bool { next() & 1 == 1 }
}

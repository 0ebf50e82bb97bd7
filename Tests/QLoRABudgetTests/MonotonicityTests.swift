import QLoRABudget
import QLoRABudgetInputs
import Testing

/// Physics says: more rank, tokens, batch or layers never need less memory, and gradient
/// checkpointing never needs more activation memory. A sweep over presets and settings.
@Suite struct MonotonicityTests {
  static let models = ["llama-3.2-1b", "qwen2.5-0.5b", "mistral-7b-v0.3", "qwen3-14b", "mixtral-8x7b"]

  static func peak(_ model: ModelArchitecture, _ setup: TrainingSetup) throws -> (allocated: Int64, activations: Int64)
  {
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    return (estimate.peak.allocated.bytes, estimate.bytes(of: .activations).bytes)
  }

  static func available() -> [ModelArchitecture] {
    models.compactMap { try? PresetCatalog.bundled.model(named: $0) }
  }

  @Test func sweepsAreMonotonic() throws {
    let models = Self.available()
    #expect(models.count >= 3)
    for model in models {
      for attention in AttentionImplementation.allCases {
        for autocast in [true, false] {
          for dropout in [0.0, 0.1] {
            for checkpointing in [true, false] {
              var base = TrainingSetup()
              base.attention = attention
              base.usesAutocast = autocast
              base.lora.givenDropout = dropout
              base.gradientCheckpointing = checkpointing
              base.sequenceLength = 512
              try Self.expectNonDecreasing(model, base, \.lora.rank, [8, 16, 64, 256])
              try Self.expectNonDecreasing(model, base, \.sequenceLength, [128, 512, 2048, 8192])
              try Self.expectNonDecreasing(model, base, \.batchSize, [1, 2, 4, 8])
            }
          }
        }
      }
    }
  }

  /// The peak allocated bytes never fall as `setting` takes `values` (in increasing order).
  static func expectNonDecreasing(
    _ model: ModelArchitecture, _ base: TrainingSetup, _ setting: WritableKeyPath<TrainingSetup, Int64>,
    _ values: [Int64], sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    var previous: Int64 = 0
    for value in values {
      var setup = base
      setup[keyPath: setting] = value
      let now = try peak(model, setup).allocated
      #expect(now >= previous, "\(model.name) \(setting) = \(value)", sourceLocation: sourceLocation)
      previous = now
    }
  }

  @Test func checkpointingNeverNeedsMoreActivationMemory() throws {
    for model in Self.available() {
      for attention in AttentionImplementation.allCases {
        for tokens: Int64 in [256, 2048] {
          var setup = TrainingSetup()
          setup.attention = attention
          setup.sequenceLength = tokens
          setup.gradientCheckpointing = true
          let on = try Self.peak(model, setup)
          setup.gradientCheckpointing = false
          let off = try Self.peak(model, setup)
          #expect(on.activations <= off.activations, "\(model.name) \(attention) \(tokens)")
          #expect(on.allocated <= off.allocated, "\(model.name) \(attention) \(tokens)")
        }
      }
    }
  }

  @Test func moreLayersNeverNeedLess() throws {
    var config: [String: Any] = [
      "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_attention_heads": 32,
      "num_key_value_heads": 8, "vocab_size": 128256, "tie_word_embeddings": true,
    ]
    for checkpointing in [true, false] {
      var previous: Int64 = 0
      for layers in [1, 2, 8, 16, 32] {
        config["num_hidden_layers"] = layers
        var setup = TrainingSetup()
        setup.gradientCheckpointing = checkpointing
        let now = try Self.peak(try TestData.model(config), setup).allocated
        #expect(now > previous, "\(layers) layers")
        previous = now
      }
    }
  }
}

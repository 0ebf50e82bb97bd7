import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Testing

/// The step mechanisms of issue 11, each checked against arithmetic written out here.
@Suite struct StepMechanismTests {
  /// llama-3.2-1b's dimensions (measure_step.py MODELS), 2 layers.
  static func llama1b() throws -> ModelArchitecture {
    try TestData.model([
      "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 2,
      "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256,
      "tie_word_embeddings": true,
    ])
  }

  /// A plain loop keeps `out.logits` (bf16 under autocast: 1,024 x 128,256 x 2 B) through
  /// backward and the optimizer step; HF Trainer frees them before backward.
  @Test func plainLoopKeepsTheLogitsThroughBackwardAndTheOptimizer() throws {
    let model = try Self.llama1b()
    var setup = TrainingSetup()
    setup.sequenceLength = 1024
    setup.platform = .cpu
    #expect(setup.trainingLoop == .trainer)
    let trainer = try MemoryEstimator.stepProfile(model: model, setup: setup)
    setup.loop = .plain
    let plain = try MemoryEstimator.stepProfile(model: model, setup: setup)
    let logits: Int64 = 1024 * 128_256 * 2
    for phase in [StepPhase.backward, .optimizer] {
      let a = try #require(trainer.phases.first { $0.name == phase }?.bytes.bytes)
      let b = try #require(plain.phases.first { $0.name == phase }?.bytes.bytes)
      #expect(b - a == logits, "\(phase)")
    }
    #expect(trainer.savedForBackward == plain.savedForBackward)
  }

  /// cuBLAS workspaces: 2 x (2 x 4,096 KiB + 8 x 16 KiB) on a T4, 2 x 32 MiB on an H100, none on CPU.
  @Test func cublasWorkspacesPerArchitecture() throws {
    let model = try Self.llama1b()
    func workspaces(_ gpu: String?, _ platform: KernelPlatform = .cuda) throws -> Int64? {
      var setup = TrainingSetup()
      setup.platform = platform
      let device = try gpu.map { try PresetCatalog.bundled.gpu(named: $0) }
      let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: device)
      return estimate.components.first { $0.kind == .cublasWorkspaces }?.bytes.bytes
    }
    #expect(try workspaces("t4") == 2 * (2 * 4096 * 1024 + 8 * 16 * 1024))
    #expect(try workspaces("h100-80gb") == 2 * 32 * 1_048_576)
    #expect(try workspaces("t4", .cpu) == 0)
  }

  /// A chunked loss replaces the standard one: for every preset model, under the default recipe
  /// (Liger) and Unsloth's, it never raises peak allocated nor the logits row (issue 10).
  @Test func chunkedLossNeverRaisesTheEstimate() throws {
    for name in PresetCatalog.bundled.modelNames {
      let model = try PresetCatalog.bundled.model(named: name)
      for recipe in [Recipe.hfPeft, .unsloth] {
        var setup = TrainingSetup()
        setup.recipe = recipe
        setup.loss = .standard
        let standard = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
        setup.loss = .chunked
        let chunked = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
        let a = standard.peak.allocated
        let b = chunked.peak.allocated
        #expect(b <= a, "\(name) \(recipe.name)")
        let logits = { (e: MemoryEstimate) in e.components.first { $0.kind == .logits }?.bytes ?? .zero }
        #expect(logits(chunked) <= logits(standard), "\(name) \(recipe.name)")
      }
    }
  }

  /// Liger's chunk rule on llama-3.1-8b (V = 128,256, H = 4,096, 2,048 tokens):
  /// inc_factor = ceil(V / H) = 32, chunk_size = next_power_of_2(ceil(2048 / 32)) = 64 rows of
  /// bf16 logits, beside the saved fp32 gradient of the final norm's output (2,048 x 4,096 x 4).
  @Test func ligerChunkFollowsItsRule() throws {
    let model = try PresetCatalog.bundled.model(named: "llama-3.1-8b")
    var setup = TrainingSetup()
    setup.platform = .cpu
    setup.loss = .standard
    let standard = try MemoryEstimator.stepProfile(model: model, setup: setup)
    setup.loss = .liger
    #expect(setup.lossImplementation == .liger)
    let liger = try MemoryEstimator.stepProfile(model: model, setup: setup)
    // Saved for backward: the standard loss saves the fp32 log-probabilities (2048 x 128256 x 4);
    // Liger saves the input gradient instead.
    let difference = standard.savedForBackward.bytes - liger.savedForBackward.bytes
    #expect(difference == 2048 * 128_256 * 4 - 2048 * 4096 * 4)
  }

  /// A recipe without a chunked loss refuses `--loss chunked` unless one is named.
  @Test func chunkedLossNeedsAnImplementation() throws {
    let model = try Self.llama1b()
    var setup = TrainingSetup()
    setup.recipe = .qloraPaper
    setup.loss = .chunked
    #expect(throws: SetupError.self) { try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil) }
    setup.loss = .liger
    #expect(throws: Never.self) { try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil) }
  }

  /// CPU autocast is invisible to bitsandbytes' LoRA branch (`torch.is_autocast_enabled()` reports
  /// CUDA's), so on CPU each branch casts its bf16 input to the fp32 adapters and autocast casts
  /// that back to bf16 for lora_A: an own `64 x in x 2 B` copy per module, where on CUDA the
  /// branches of one input share it (a bf16 residual: the llama-factory recipe). One layer,
  /// hidden 256, intermediate 512, no GQA, r16 on every linear, no dropout: CUDA saves q/k/v's
  /// input once (32,768 B), o_proj's is SDPA's saved output (0), gate/up's once (32,768) and
  /// down's once (65,536); CPU saves 3 x 32,768 + 32,768 + 2 x 32,768 + 65,536. Difference 131,072.
  @Test func bitsandbytesBranchCastsUnderCPUAutocast() throws {
    let model = try TestData.model([
      "model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 1,
      "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 1000,
    ])
    var setup = TrainingSetup()
    setup.recipe = .llamaFactory
    setup.lora.givenDropout = 0
    setup.gradientCheckpointing = false
    setup.sequenceLength = 64
    let cuda = try MemoryEstimator.stepProfile(model: model, setup: setup)
    setup.platform = .cpu
    let cpu = try MemoryEstimator.stepProfile(model: model, setup: setup)
    #expect(cpu.savedForBackward.bytes - cuda.savedForBackward.bytes == 131_072)
  }
}

import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// Unsloth's own decoder kernels (``FusedDecoderKernels``), each figure written out from its
/// source (unsloth 2026.8.19: kernels/fast_lora.py `LoRA_QKV`, `LoRA_W`, `LoRA_MLP`;
/// kernels/rms_layernorm.py `Fast_RMS_Layernorm`; models/llama.py `patch_peft_model`) per token.
@Suite struct FusedDecoderKernelsTests {
  static let tokens: Int64 = 1_000

  /// The recipe's setup of the blog rows: NF4, r32 on all linear layers, flash-attention, bf16
  /// under autocast, checkpointing on (Unsloth's default), batch 1.
  static func unslothSetup(dropout: Double, rank: Int64 = 32) -> TrainingSetup {
    var setup = TrainingSetup()
    setup.recipe = .unsloth
    setup.lora = LoRAConfiguration(rank: rank, targets: .allLinear, dropout: dropout)
    setup.attention = .flash
    setup.sequenceLength = tokens
    return setup
  }

  static func denseLayer(_ model: String, _ setup: TrainingSetup) throws -> (LayerActivations, StepContext) {
    let model = try PresetCatalog.bundled.model(named: model)
    let context = StepContext(model: model, setup: setup)
    let adapted = try MemoryEstimator.loraTargets(model, setup)
    return (LayerActivations.layers(context, adapted: adapted).dense, context)
  }

  /// Llama-3.1-8B (h 4,096, 32 heads of 128, 8 kv heads: kv 1,024, intermediate 14,336), one
  /// recomputed layer, per token in bytes:
  /// - input_layernorm: its input is the kept layer input; the fp32 rsqrt: 4
  /// - `LoRA_QKV` saves X, the norm's bf16 output: 4,096 x 2 = 8,192 (no X @ A)
  /// - flash-attention: q 4,096 x 2 = 8,192, k and v 2 x 1,024 x 2 = 4,096, output 8,192 (o_proj's
  ///   `LoRA_W` input, the same tensor), log-sum-exp 32 x 4 = 128: 20,608
  /// - post_attention_layernorm: its bf16 input 8,192 + rsqrt 4 = 8,196
  /// - `LoRA_MLP` saves X 8,192, e and g 2 x 14,336 x 2 = 57,344
  /// Total 102,536 B per token; its MLP backward holds one 14,336 x 2 = 28,672 (DW).
  @Test func llamaLayerSavesWhatUnslothsKernelsSave() throws {
    let (layer, _) = try Self.denseLayer("llama-3.1-8b", Self.unslothSetup(dropout: 0))
    #expect(layer.savedBytes == ByteCount(Self.tokens * 102_536))
    #expect(layer.attentionSaved == ByteCount(Self.tokens * (4 + 8_192 + 20_608)))
    #expect(layer.feedForwardBackwardTransients == [ByteCount(Self.tokens * 28_672)])
    #expect(!layer.saved.contains { $0.name.contains("x*A") || $0.name.contains("fp32 input") })
  }

  /// Without checkpointing nothing else keeps the layer input, so the first norm's saved input is
  /// the layer's own: 4,096 x 2 + 4 = 8,196 per token (102,536 - 4 + 8,196 = 110,728 in all), and
  /// the first layer, whose input (the embeddings) does not require grad, saves none of it.
  @Test func withoutCheckpointingTheFirstNormKeepsTheLayerInput() throws {
    var setup = Self.unslothSetup(dropout: 0)
    setup.gradientCheckpointing = false
    let (layer, _) = try Self.denseLayer("llama-3.1-8b", setup)
    #expect(layer.savedBytes == ByteCount(Self.tokens * 110_728))
    #expect(layer.savedForInputGradient == ByteCount(Self.tokens * 8_196))
  }

  /// With dropout the LoRA branches stay peft's (`patch_peft_model` patches only `lora_dropout
  /// == 0`); the norms are still Unsloth's. Per token, CUDA autocast (peft's bnb branch does not
  /// cast; the mask is 1 B, the dropped-out copy bf16, x*A 32 x 2 = 64):
  /// - q, k, v, o, gate, up (in 4,096): 4,096 + 8,192 + 64 = 12,352 each, 74,112
  /// - down (in 14,336): 14,336 + 28,672 + 64 = 43,072
  /// - norms 4 + 8,196; flash-attention 20,608; gate, activation and up outputs 3 x 28,672 = 86,016
  /// Total 232,008; the MLP backward holds three 28,672 tensors.
  @Test func dropoutKeepsPeftsBranches() throws {
    let (layer, _) = try Self.denseLayer("llama-3.1-8b", Self.unslothSetup(dropout: 0.05))
    #expect(layer.savedBytes == ByteCount(Self.tokens * 232_008))
    #expect(layer.saved.filter { $0.name.hasSuffix("dropout mask") }.count == 7)
    #expect(layer.feedForwardBackwardTransients == Array(repeating: ByteCount(Self.tokens * 28_672), count: 3))
  }

  /// Qwen2.5-7B (h 3,584, 28 heads of 128, kv 512, intermediate 18,944) has a bias on q, k and v:
  /// `patch_peft_model` leaves them to peft (their branches share the norm output and save x*A,
  /// 16 x 2 = 32 each at r16) and fuses o_proj and the MLP. Per token:
  /// 4 + 7,168 (norm output) + 3 x 32 + flash (7,168 + 2 x 512 x 2 + 7,168 + 28 x 4 = 16,496)
  /// + 7,172 (second norm) + 7,168 (MLP input) + 2 x 18,944 x 2 = 75,776: 113,880.
  @Test func qwen2KeepsPeftsQueryKeyValueForTheirBias() throws {
    let (layer, _) = try Self.denseLayer("qwen2.5-7b", Self.unslothSetup(dropout: 0, rank: 16))
    #expect(layer.savedBytes == ByteCount(Self.tokens * 113_880))
    #expect(layer.saved.filter { $0.name.contains("x*A") }.count == 3)
  }

  /// The kernels belong to Unsloth's FastLlamaModel families on its recipe: another recipe, a
  /// model type Unsloth sends to FastModel (Gemma 2 here), 8-bit loading or full fine-tuning runs
  /// transformers' layers.
  @Test func onlyUnslothsFastLlamaModelRunsThem() throws {
    let llama = try PresetCatalog.bundled.model(named: "llama-3.1-8b")
    let gemma = try PresetCatalog.bundled.model(named: "gemma-2-2b")
    let unsloth = Self.unslothSetup(dropout: 0)
    var peft = unsloth
    peft.recipe = .hfPeft
    var int8 = unsloth
    int8.quantization = .int8
    var full = unsloth
    full.isFullFineTune = true
    func kernels(_ model: ModelArchitecture, _ setup: TrainingSetup) throws -> FusedDecoderKernels? {
      let adapted = try MemoryEstimator.loraTargets(model, setup)
      return FusedDecoderKernels(StepContext(model: model, setup: setup), adapted: adapted.modules, sparse: false)
    }
    let fused = try #require(try kernels(llama, unsloth))
    #expect(fused.fusesQueryKeyValue && fused.fusesOutput && fused.fusesFeedForward)
    #expect(try kernels(llama, peft) == nil)
    #expect(try kernels(gemma, unsloth) == nil)
    #expect(try kernels(llama, int8) == nil)
    #expect(!FusedDecoderKernels.runs(StepContext(model: llama, setup: full)))
  }

  /// q_proj and v_proj alone (peft's default targets): no block has all its modules adapted, so
  /// every branch is peft's, and the norms are Unsloth's.
  @Test func aPartlyAdaptedBlockStaysPefts() throws {
    var setup = Self.unslothSetup(dropout: 0)
    setup.lora.targets = .modules(["q_proj", "v_proj"])
    let (layer, context) = try Self.denseLayer("llama-3.1-8b", setup)
    let adapted = try MemoryEstimator.loraTargets(context.model, setup)
    let fused = try #require(FusedDecoderKernels(context, adapted: adapted.modules, sparse: false))
    #expect(!fused.fusesQueryKeyValue && !fused.fusesOutput && !fused.fusesFeedForward)
    #expect(layer.saved.filter { $0.name.contains("x*A") }.count == 2)
    #expect(layer.saved.contains { $0.name.hasPrefix("gate output, activation output, up output") })
  }
}

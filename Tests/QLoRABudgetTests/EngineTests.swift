import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The multi-GPU engines (FSDP, DeepSpeed ZeRO 1/2/3, CPU offload) and torchao's NF4 layout,
/// against arithmetic written out here.
@Suite struct EngineTests {
  static let presets = PresetCatalog.bundled

  /// A QLoRA setup on llama-2-7b with `engine` over `gpus` GPUs.
  static func estimate(
    _ engine: ParallelEngine, gpus: Int64, nodes: Int64 = 1, offload: EngineOffload = [], model: String = "llama-2-7b"
  ) throws -> MemoryEstimate {
    var setup = TrainingSetup()
    setup.engine = engine
    setup.gpuCount = gpus
    setup.nodeCount = nodes
    setup.offload = offload
    return try MemoryEstimator.estimate(model: try presets.model(named: model), setup: setup, gpu: nil)
  }

  static func bytes(_ estimate: MemoryEstimate, _ kind: MemoryComponent.Kind, on device: MemoryComponent.Device = .gpu)
    -> Int64
  {
    estimate.bytes(of: kind, on: device).bytes
  }

  static func ceilDiv(_ a: Int64, _ b: Int64) -> Int64 { (a + b - 1) / b }

  // llama-2-7b, LoRA r=16 on all seven projections of 32 layers (h 4096, intermediate 11008):
  // per layer q,k,v,o: 16 x (4096 + 4096) each, gate/up: 16 x (4096 + 11008), down the same.
  static let trainable: Int64 = 32 * (4 * 16 * (4096 + 4096) + 3 * 16 * (4096 + 11008))

  /// bitsandbytes' statistics of llama-2-7b's 224 NF4 weights (double quantization, block 64),
  /// which no engine shards (they are `quant_state`, not a parameter): per weight of n elements
  /// nb = n/64 uint8 absmax + 4*ceil(nb/256) nested absmax + 1,024 nested code + 4 offset + 64
  /// code; per layer four 4096 x 4096 weights (nb 262,144) and three 11008 x 4096 (nb 704,512).
  static let statistics: Int64 = 32 * (4 * (262_144 + 4 * 1024 + 1092) + 3 * (704_512 + 4 * 2752 + 1092))

  @Test func theTrainableCountIsTheArithmetic() throws {
    #expect(try Self.estimate(.zero1, gpus: 1).trainableParameters == Self.trainable)  // 39,976,960
  }

  /// torchao `to_nf4(block 64, scaler block 256)` of a 4096 x 4096 bf16 weight: 8,388,608 packed
  /// + 262,144 int8 scalers + 1,024 bf16 factors + a bf16 mean + a 16-entry bf16 code.
  @Test func torchAONF4BuffersOfOneWeight() {
    let buffers = TorchAONF4Buffers(elementCount: 4096 * 4096, blockSize: 64, dtype: .bfloat16)
    #expect(buffers.quantizedData.bytes == 4096 * 4096 / 2)
    #expect(buffers.quantizedScalers.bytes == 4096 * 4096 / 64)
    #expect(buffers.quantizationFactor.bytes == 4096 * 4096 / 64 / 256 * 2)
    #expect(buffers.scalerMean.bytes == 2)
    #expect(buffers.code.bytes == 32)
    #expect(buffers.total.bytes == 8_388_608 + 262_144 + 2_048 + 2 + 32)
  }

  /// The torchtune recipe counts llama-2-7b's 224 linear weights in torchao's layout:
  /// per layer four 4096 x 4096 and three 11008 x 4096 weights.
  @Test func torchtuneRecipeUsesTheTorchAOLayout() throws {
    var setup = TrainingSetup()
    setup.recipe = .torchtune
    let estimate = try MemoryEstimator.estimate(
      model: try Self.presets.model(named: "llama-2-7b"), setup: setup, gpu: nil)
    let square: Int64 = 8_388_608 + 262_144 + 2 * (262_144 / 256) + 2 + 32
    let mlp: Int64 = 45_088_768 / 2 + 45_088_768 / 64 + 2 * Self.ceilDiv(45_088_768 / 64, 256) + 2 + 32
    #expect(Self.bytes(estimate, .quantizedWeights) == 32 * (4 * square + 3 * mlp))  // 3,339,726,272
    // The adapters are bf16 in torchtune (built under the bf16 default dtype).
    #expect(Self.bytes(estimate, .adapters) == Self.trainable * 2)
  }

  /// ZeRO-1 shards only the optimizer state (plus the fp32 master partition); ZeRO-2 the
  /// gradients too; ZeRO-3 the parameters as well, except tensors under the persistence threshold
  /// and the 4-bit statistics.
  @Test func zeroStagesShardWhatTheyPartition() throws {
    let single = try Self.estimate(.zero1, gpus: 1)
    let quantized = Self.bytes(single, .quantizedWeights)
    let unquantized = Self.bytes(single, .unquantizedWeights)
    // DeepSpeed casts the module to bf16: adapters and their gradients 2 B, moments 8 B, master 4 B.
    #expect(Self.bytes(single, .adapters) == Self.trainable * 2)
    #expect(Self.bytes(single, .gradients) == Self.trainable * 2)
    #expect(Self.bytes(single, .optimizerState) == Self.trainable * 8 + Self.trainable * 4)

    let zero1 = try Self.estimate(.zero1, gpus: 4)
    #expect(Self.bytes(zero1, .quantizedWeights) == quantized)
    #expect(Self.bytes(zero1, .gradients) == Self.trainable * 2)
    #expect(
      Self.bytes(zero1, .optimizerState) == Self.ceilDiv(Self.trainable * 8, 4) + Self.ceilDiv(Self.trainable * 4, 4))
    #expect(zero1.bytes(of: .shardingBuffers) == .zero)

    let zero2 = try Self.estimate(.zero2, gpus: 4)
    #expect(Self.bytes(zero2, .quantizedWeights) == quantized)
    #expect(Self.bytes(zero2, .gradients) == Self.ceilDiv(Self.trainable * 2, 4))
    // One reduce bucket: reduce_bucket_size 5e8 elements x 2 B is more than all the gradients.
    #expect(Self.bytes(zero2, .shardingBuffers) == Self.trainable * 2)

    let zero3 = try Self.estimate(.zero3, gpus: 4)
    #expect(Self.statistics == 103_013_248)
    #expect(Self.bytes(zero3, .quantizedWeights) == Self.ceilDiv(quantized - Self.statistics, 4) + Self.statistics)
    #expect(Self.bytes(zero3, .unquantizedWeights) == Self.ceilDiv(unquantized, 4))
    // Every lora_A (16 x 4096 = 65,536) and the attention lora_B (4096 x 16) are at most 1e5
    // elements and stay whole; the MLP's 16 x 11008 = 176,128-element tensors are partitioned.
    let persistent: Int64 = 32 * (4 * 2 * 65_536 + 2 * 65_536 + 65_536) * 2
    #expect(Self.bytes(zero3, .adapters) == Self.ceilDiv(Self.trainable * 2 - persistent, 4) + persistent)
    // Gathered: one layer's parameters plus the 5e7-element prefetch bucket in bf16 (under the
    // 1e9-element live cap), and the reduce bucket.
    let layer = (quantized + unquantized + Self.trainable * 2) / 32
    #expect(Self.bytes(zero3, .shardingBuffers) == layer + 50_000_000 * 2 + Self.trainable * 2)
  }

  /// `offload_optimizer`: the moments, the fp32 master and an fp32 gradient partition go to the
  /// host; `offload_param` (ZeRO-3): the parameter partitions too (the 4-bit statistics stay).
  @Test func zeroOffloadMovesItsPartitionsToTheHost() throws {
    let single = try Self.estimate(.zero3, gpus: 1)
    let quantized = Self.bytes(single, .quantizedWeights)
    let unquantized = Self.bytes(single, .unquantizedWeights)
    let optimizer = try Self.estimate(.zero3, gpus: 2, offload: .optimizer)
    #expect(Self.bytes(optimizer, .optimizerState) == 0)
    let host = Self.ceilDiv(Self.trainable * 8, 2) + 2 * Self.ceilDiv(Self.trainable * 4, 2)
    #expect(Self.bytes(optimizer, .offloadedToHost, on: .host) == host)
    #expect(HostMemory(optimizer).offloaded.bytes == host)

    let both = try Self.estimate(.zero3, gpus: 2, offload: [.optimizer, .parameters])
    #expect(Self.bytes(both, .quantizedWeights) == Self.statistics)
    #expect(Self.bytes(both, .unquantizedWeights) == 0)
    let persistent: Int64 = 32 * (4 * 2 * 65_536 + 2 * 65_536 + 65_536) * 2
    #expect(Self.bytes(both, .adapters) == persistent)
    let parameters =
      Self.ceilDiv(quantized - Self.statistics, 2) + Self.ceilDiv(unquantized, 2)
      + Self.ceilDiv(Self.trainable * 2 - persistent, 2)
    #expect(Self.bytes(both, .offloadedToHost, on: .host) == host + parameters)
  }

  /// FSDP CPUOffload(offload_params=True): parameters, gradients and optimizer state shards on
  /// the host; the GPU keeps the gather buffers (the root unit and two layers) and the 4-bit
  /// statistics.
  @Test func fsdpCPUOffloadKeepsOnlyTheGatherOnTheGPU() throws {
    let single = try Self.estimate(.fsdp, gpus: 1)
    let offloaded = try Self.estimate(.fsdp, gpus: 2, offload: .parameters)
    for kind in [MemoryComponent.Kind.unquantizedWeights, .adapters, .gradients, .optimizerState] {
      #expect(Self.bytes(offloaded, kind) == 0, "\(kind)")
    }
    #expect(Self.bytes(offloaded, .quantizedWeights) == Self.statistics)
    let host = [MemoryComponent.Kind.unquantizedWeights, .adapters, .gradients, .optimizerState]
      .map { Self.ceilDiv(Self.bytes(single, $0), 2) }.reduce(0, +)
    let packed = Self.bytes(single, .quantizedWeights) - Self.statistics
    #expect(Self.bytes(offloaded, .offloadedToHost, on: .host) == host + Self.ceilDiv(packed, 2))
    #expect(offloaded.residentBytes.bytes == Self.statistics)
    #expect(Self.bytes(offloaded, .shardingBuffers) == Self.bytes(try Self.estimate(.fsdp, gpus: 2), .shardingBuffers))
  }

  /// HYBRID_SHARD shards within a node: 8 GPUs in 2 nodes hold a quarter each, as FULL_SHARD on 4.
  @Test func hybridShardDividesByTheGPUsOfOneNode() throws {
    let hybrid = try Self.estimate(.fsdpHybrid, gpus: 8, nodes: 2)
    let full = try Self.estimate(.fsdp, gpus: 4)
    let single = try Self.estimate(.fsdp, gpus: 1)
    let packed = Self.bytes(single, .quantizedWeights) - Self.statistics
    #expect(Self.bytes(hybrid, .quantizedWeights) == Self.ceilDiv(packed, 4) + Self.statistics)
    #expect(hybrid.residentBytes == full.residentBytes)
    #expect(
      Self.bytes(try Self.estimate(.fsdp, gpus: 8, nodes: 2), .quantizedWeights)
        == Self.ceilDiv(packed, 8) + Self.statistics)
  }

  @Test(arguments: [
    (ParallelEngine.fsdp, Int64(4), Int64(3), EngineOffload(), Setting.nodeCount),
    (.fsdp, 2, 1, .optimizer, .offload),
    (.zero2, 2, 1, .parameters, .offload),
    (.zero1, 2, 4, EngineOffload(), .nodeCount),
  ])
  func invalidEngineOptionsNameTheOption(
    engine: ParallelEngine, gpus: Int64, nodes: Int64, offload: EngineOffload, option: Setting
  ) throws {
    #expect {
      _ = try Self.estimate(engine, gpus: gpus, nodes: nodes, offload: offload)
    } throws: { error in
      guard case SetupError.outOfRange(let named, _, _) = error else { return false }
      return named == option
    }
  }

  /// `solve --find gpus`: the plan fits, the same engine and offload on one GPU fewer does not,
  /// and no other engine or offload of the ladder fits on fewer.
  @Test(arguments: [("llama-2-70b", "rtx-4090"), ("llama-3.1-405b", "a100-80gb"), ("qwen3-32b", "rtx-3060-12gb")])
  func fewestGPUsWithEngineIsExact(model: String, gpu: String) throws {
    let planner = Planner(
      model: try Self.presets.model(named: model), setup: TrainingSetup(), gpu: try Self.presets.gpu(named: gpu))
    let plan = try #require(try planner.fewestGPUs())
    #expect(plan.evaluation.verdict == .fits)
    #expect(plan.evaluation.setup.engine == plan.choice.engine && plan.evaluation.setup.offload == plan.choice.offload)
    guard plan.count > 1 else { return }
    #expect(plan.oneFewer.map { $0.verdict != .fits } == true)
    for choice in Planner.EngineChoice.ladder {
      var setup = TrainingSetup()
      setup.engine = choice.engine
      setup.offload = choice.offload
      setup.gpuCount = plan.count - 1
      #expect(try planner.evaluate(setup).verdict != .fits, "\(choice.description)")
    }
  }

  /// A DeepSpeed config file: stage 3 with optimizer offload and HF's "auto" buckets, filled from
  /// llama-2-70b's hidden size 8192 as transformers does (h^2, int(0.9 h^2), 10 h).
  @Test func deepSpeedConfigFileMapsOntoTheEngine() throws {
    let json = """
      {"bf16": {"enabled": true}, "train_micro_batch_size_per_gpu": 2,
       "zero_optimization": {"stage": 3, "offload_optimizer": {"device": "cpu", "pin_memory": true},
        "offload_param": {"device": "none"}, "reduce_bucket_size": "auto",
        "stage3_prefetch_bucket_size": "auto", "stage3_param_persistence_threshold": "auto",
        "stage3_max_live_parameters": 3e8}}
      """
    var setup = TrainingSetup()
    setup.computeDtype = .fp16
    try DeepSpeedConfigFile.apply(Data(json.utf8), to: &setup)
    #expect(setup.engine == .zero3)
    #expect(setup.offload == .optimizer)
    #expect(setup.computeDtype == .bf16)
    #expect(setup.batchSize == 2)
    #expect(setup.deepSpeed.maxLiveParameters == 300_000_000)
    let resolved = setup.deepSpeed.resolved(hiddenSize: 8192)
    #expect(resolved.reduce == 8192 * 8192)  // 67,108,864
    #expect(resolved.prefetch == 60_397_977)  // int(0.9 x 67,108,864 = 60,397,977.6)
    #expect(resolved.persistence == 81_920)
    for (bad, field) in [
      (#"{"zero_optimization": {"stage": 0}}"#, "zero_optimization.stage"),
      (
        #"{"zero_optimization": {"stage": 3, "offload_param": {"device": "nvme"}}}"#,
        "zero_optimization.offload_param.device"
      ),
      (#"{"zero_optimization": {"stage": 2, "reduce_bucket_size": -1}}"#, "zero_optimization.reduce_bucket_size"),
      (
        #"{"zero_optimization": {"stage": 3, "stage3_max_live_parameters": "auto"}}"#,
        "zero_optimization.stage3_max_live_parameters"
      ),
      ("[1", "the file"),
    ] {
      var other = TrainingSetup()
      #expect { try DeepSpeedConfigFile.apply(Data(bad.utf8), to: &other) } throws: { error in
        (error as? DeepSpeedConfigError)?.field == field
      }
    }
  }

  /// With the optimizer step on the host (ZeRO offload_optimizer, FSDP CPUOffload), which
  /// optimizer runs changes no GPU byte: torch AdamW's foreach temporaries and SGD's none are
  /// both host-side. On the GPU (no offload) AdamW's step needs more than SGD's.
  @Test(arguments: [
    (ParallelEngine.zero3, EngineOffload([.optimizer, .parameters])), (.zero2, EngineOffload.optimizer),
    (.fsdp, EngineOffload.parameters),
  ])
  func anOffloadedOptimizerStepAddsNothingToTheGPU(engine: ParallelEngine, offload: EngineOffload) throws {
    /// The optimizer phase's moment on the GPU (bytes above the resident ones).
    func peak(_ optimizer: Optimizer, _ offload: EngineOffload) throws -> ByteCount {
      var setup = TrainingSetup()
      setup.isFullFineTune = true
      setup.engine = engine
      setup.gpuCount = 2
      setup.offload = offload
      setup.optimizer = optimizer
      let model = try Self.presets.model(named: "qwen3-0.6b")
      let step = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil).step
      return try #require(step.phases.first { $0.name == .optimizer }).bytes
    }
    #expect(try peak(.adamw, offload) == peak(.sgd, offload))
    #expect(try peak(.adamw, []) > peak(.sgd, []))
  }
}

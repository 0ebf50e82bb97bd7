import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The allocation schedule is the source of the allocated figures: its running maximum in each
/// phase of the measured step is the breakdown's figure for that phase, and its peak is the peak
/// allocated the estimator reported before the schedule existed (less, since issue 21, at most
/// the gradients: they now appear layer by layer in backward) (Tests/Calibration/schedule/
/// main-peak-allocated.json, written by the CLI at main fdd5544), for every preset model under
/// five setups.
@Suite struct AllocationScheduleTests {
  struct Row: Decodable {
    let model: String
    let variant: String
    let peak_allocated_bytes: Int64
  }

  struct Baseline: Decodable {
    let variants: [String: String]
    let rows: [Row]

    /// Tests/Calibration/schedule/main-peak-allocated.json: every preset model under five setups.
    static func load() throws -> Baseline {
      try JSONDecoder().decode(Baseline.self, from: try TestData.calibration("schedule/main-peak-allocated.json"))
    }

    /// The five setups' names and the preset models, each sorted.
    var variantNames: [String] { variants.keys.sorted() }
    var models: [String] { Array(Set(rows.map(\.model))).sorted() }
  }

  /// The fixture's flags as settings.
  static func setup(_ flags: String) throws -> TrainingSetup {
    var setup = TrainingSetup()
    let words = flags.split(separator: " ").map(String.init)
    var index = 0
    while index + 1 < words.count {
      let name = String(words[index].dropFirst(2)).replacingOccurrences(of: "-", with: "_")
      let setting = try #require(Setting.allCases.first { $0.rawValue == name })
      setup = try setting.parse(words[index + 1]).applied(to: setup)
      index += 2
    }
    return setup
  }

  @Test func theScheduleReachesEveryPhaseFigureAndTheFormerPeak() throws {
    let baseline = try Baseline.load()
    #expect(baseline.rows.count == 340)
    let gpu = GPU.custom(capacity: .gibibytes(80), label: "80GiB")
    for row in baseline.rows {
      let model = try PresetCatalog.bundled.model(named: row.model)
      var setup = try Self.setup(try #require(baseline.variants[row.variant]))
      // The baseline was made when every recipe's LoRA dropout defaulted to 0.05 (Unsloth's is 0 now).
      setup.lora.givenDropout = setup.lora.givenDropout ?? 0.05
      let walk = try MemoryEstimator.Walk(model: model, setup: setup, gpu: gpu)
      let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
      let schedule = walk.schedule(loader: .threaded(workers: 4))
      #expect(Self.freesOnlyLiveTensors(schedule), "\(row.model) \(row.variant)")
      let phases = schedule.peakAllocatedByPhase
      let base = estimate.residentBytes + walk.transient.workspaces + (walk.gather?.bytes ?? .zero)
      let measured = phases.filter { $0.phase != .loading && $0.phase != .warmUp }
      #expect(measured.map(\.phase) == [.forward, .backward, .optimizer], "\(row.model) \(row.variant)")
      for (phase, expected) in zip(measured, estimate.step.phases) {
        #expect(phase.bytes == base + expected.bytes, "\(row.model) \(row.variant) \(phase.phase)")
      }
      // Issue 21: gradients appear layer by layer in backward (GradientTiming), no longer all at
      // the first layer's backward; and eager attention's cast probabilities (saved by
      // `probs @ v` alone, b x heads x s x s in the compute dtype under autocast) are released
      // before softmax's backward. The former peak is at most those bytes higher.
      // Issue 17: Unsloth's own decoder kernels (FusedDecoderKernels) were counted as transformers'
      // layers; they never raise the peak, and the former rule holds for the peak with
      // transformers' layers.
      let ownPeak = try #require(measured.map(\.bytes).max())
      let ownKernels = FusedDecoderKernels.runs(walk.context)
      var transformersLayers = setup
      transformersLayers.recipe = setup.recipe.withTransformersLayers
      let compared = ownKernels ? try MemoryEstimator.Walk(model: model, setup: transformersLayers, gpu: gpu) : walk
      let peak =
        ownKernels
        ? try #require(
          compared.schedule(loader: .threaded(workers: 4)).peakAllocatedByPhase
            .filter { $0.phase != .loading && $0.phase != .warmUp }.map(\.bytes).max()) : ownPeak
      #expect(!ownKernels || ownPeak < peak, "\(row.model) \(row.variant)")
      let former = ByteCount(row.peak_allocated_bytes)
      let castProbabilities =
        setup.attention == .eager
        ? ByteCount(
          setup.batchSize * model.attentionHeadCount * setup.sequenceLength * setup.sequenceLength
            * setup.computeDtype.tensorDtype.byteWidth)
        : .zero
      // Issue 21 (MoE): on transformers 5 peft adapts the fused experts of these families (their
      // LoRA, gradients, state and merged stacks, PeftExpertTargetsTests) and their sparse blocks run
      // grouped_mm in the experts' dtype: their peaks rise, not compared with the former ones.
      let fusedExperts = model.layout.mixtureOfExperts.map {
        [.qwen, .mixtral, .glm].contains($0.style) && !setup.recipe.linearRoles.contains($0.expertRole)
      }
      // Unsloth's fused loss was counted as one chunk of min(T*V*16 B, 4 GiB) (a bound); it is now
      // chunked as unsloth_zoo's get_chunk_size does (a multiple of 4 chunks within the budget),
      // never larger: the former peak is at most the difference higher.
      let tokens = setup.batchSize * setup.sequenceLength
      let formerUnslothChunk =
        compared.step.loss.unslothChunking == nil
        ? .zero
        : min(ByteCount(tokens * model.vocabularySize * 16), .gibibytes(4)) + ByteCount(tokens * 4)
          - compared.step.loss.chunk
      if fusedExperts != true {
        #expect(
          peak <= former && former - peak <= compared.step.gradients + castProbabilities + formerUnslothChunk,
          "\(row.model) \(row.variant)")
      }
      if compared.step.gradientTiming.beforeLayers.count == 1
        && compared.step.gradientTiming.perLayer.allSatisfy(\.isEmpty)
      {
        #expect(peak == former, "\(row.model) \(row.variant): sharded gradients are charged as before")
      }
    }
  }

  /// Every free names a live tensor (no double free, no unknown id).
  static func freesOnlyLiveTensors(_ schedule: AllocationSchedule) -> Bool {
    var live = Set<Int32>()
    for event in schedule.events {
      switch event {
      case .allocate(let id, _, _): live.insert(id)
      case .free(let id): if live.remove(id) == nil { return false }
      case .phase: break
      }
    }
    return true
  }

  /// The room a schedule reserves up front holds the whole run of every preset model under the
  /// five setups, so building none of them copies its events to grow (issue 19); and the
  /// reservation stays within its cap for a model with absurdly many layers.
  @Test func theReservedRoomHoldsEveryPresetSchedule() throws {
    let baseline = try Baseline.load()
    let gpu = GPU.custom(capacity: .gibibytes(80), label: "80GiB")
    for row in baseline.rows {
      let model = try PresetCatalog.bundled.model(named: row.model)
      let setup = try Self.setup(try #require(baseline.variants[row.variant]))
      let walk = try MemoryEstimator.Walk(model: model, setup: setup, gpu: gpu)
      let built = walk.schedule(loader: .threaded(workers: 4)).events.count
      let room = AllocationSchedule(layers: model.layerCount, trainable: walk.trainable).events.capacity
      #expect(built <= room, "\(row.model) \(row.variant): \(built) events, room for \(room)")
    }
    let group = TrainableTensorGroup(module: "m", elementsPerTensor: 1, tensorCount: .max, dtype: .float32)
    let huge = AllocationSchedule(layers: .max, trainable: [group, group]).events.capacity
    #expect(huge >= 1 << 22 && huge < 1 << 23)
  }

  @Test func sequentialLoadingReachesTheSamePhases() throws {
    let model = try PresetCatalog.bundled.model(named: "qwen2.5-7b")
    let gpu = GPU.custom(capacity: .gibibytes(80), label: "80GiB")
    let threaded = try MemoryEstimator.schedule(
      model: model, setup: TrainingSetup(), gpu: gpu, loader: .threaded(workers: 4))
    let sequential = try MemoryEstimator.schedule(model: model, setup: TrainingSetup(), gpu: gpu, loader: .sequential)
    #expect(
      threaded.peakAllocatedByPhase.dropFirst(2).map(\.bytes)
        == sequential.peakAllocatedByPhase.dropFirst(2).map(\.bytes))
    // The same tensors, in another order.
    #expect(threaded.events.count == sequential.events.count)
  }

  /// A checkpointed forward layer in op order (fitcheck-t4's TinyLlama, eager, b=2, s=2048, 22
  /// layers, fp32 residual stream): the MLP's gate, activation and up outputs are three tensors
  /// of 2*2048 tokens x 5632 x 4 B; every layer allocates them once its two fp32 score tensors
  /// (2 x 32 heads x 2048 x 2048 x 4 B) are freed, the last too (grad off, attention's tensors die
  /// before the MLP's are made: the forward moment is the larger block's, Tests/Calibration/
  /// measured/README.md); no layer before the last dequantizes a weight (grad off).
  @Test func aCheckpointedForwardLayerAllocatesItsMLPAfterItsScores() throws {
    let schedule = try Self.tinyLlamaSchedule(sequenceLength: 2048, attention: .eager)
    let mlpTensor: Int64 = 2 * 2048 * 5632 * 4
    let scores: Int64 = 2 * 32 * 2048 * 2048 * 4
    var inForward = false
    var liveScores = Set<Int32>()
    var scoresSeen = 0
    var mlpBesideScores = 0
    var mlpAlone = 0
    var dequantized = 0
    for event in schedule.events {
      switch event {
      case .phase(let phase):
        inForward = phase == .forward
      case .allocate(let id, let bytes, let tensor) where inForward:
        if tensor == .forwardTemporary && bytes == scores {
          liveScores.insert(id)
          scoresSeen += 1
        }
        if tensor == .recomputedActivation && bytes == mlpTensor {
          if liveScores.isEmpty { mlpAlone += 1 } else { mlpBesideScores += 1 }
        }
        if tensor == .dequantizedWeight { dequantized += 1 }
      case .free(let id) where inForward:
        liveScores.remove(id)
      default:
        break
      }
    }
    #expect(scoresSeen == 2 * 22)
    #expect(mlpAlone == 3 * 22)
    #expect(mlpBesideScores == 0)
    #expect(dequantized == 1)
  }

  /// TinyLlama with SDPA at 2 x 1,024 tokens (fitcheck-t4's run, fp16 without autocast, the norms
  /// upcast to fp32 by prepare_model_for_kbit_training, so q, the expanded k and v and attention's
  /// output are 2 x 1024 x 2048 x 4 B each) makes its MLP tensors (gate, activation and up outputs,
  /// 2 x 1024 x 5632 x 4 B) in every layer before the last once those are freed, as the recorded
  /// sequences of the allocator study do (grad off, op order); only the last layer, which reaches
  /// the estimate's forward moment (SDPA's whole working set), holds both blocks together.
  @Test func aCheckpointedSDPALayerBeforeTheLastAllocatesItsMLPAfterAttention() throws {
    let schedule = try Self.tinyLlamaSchedule(sequenceLength: 1024, attention: .sdpa)
    let attentionTensor: Int64 = 2 * 1024 * 2048 * 4
    let mlpTensor: Int64 = 2 * 1024 * 5632 * 4
    // The warm-up step's forward (from its phase marker to its first residual-stream gradient,
    // where backward begins) and the measured step's forward. Backward's recompute keeps the
    // attention tensors it saves while the MLP recomputes: not counted.
    var warmUp = false
    var inForward = false
    var liveAttention = Set<Int32>()
    var mlpAlone = (warmUp: 0, measured: 0)
    var mlpBesideAttention = (warmUp: 0, measured: 0)
    for event in schedule.events {
      switch event {
      case .phase(let phase):
        warmUp = phase == .warmUp
        inForward = phase == .forward
      case .allocate(_, _, .residualGradient) where warmUp:
        warmUp = false
      case .allocate(let id, let bytes, let tensor) where (warmUp || inForward) && tensor == .recomputedActivation:
        if bytes == attentionTensor { liveAttention.insert(id) }
        if bytes == mlpTensor {
          switch (liveAttention.isEmpty, warmUp) {
          case (true, true): mlpAlone.warmUp += 1
          case (true, false): mlpAlone.measured += 1
          case (false, true): mlpBesideAttention.warmUp += 1
          case (false, false): mlpBesideAttention.measured += 1
          }
        }
      case .free(let id) where warmUp || inForward:
        liveAttention.remove(id)
      default:
        break
      }
    }
    // The warm-up's forward, 22 layers, in op order: gate, up and act made alone in each. The
    // measured forward's last layer keeps the estimate's bound.
    #expect(mlpAlone.warmUp == 3 * 22 && mlpBesideAttention.warmUp == 0)
    #expect(mlpAlone.measured == 3 * 21)
    #expect(mlpBesideAttention.measured == 3)
  }

  /// fitcheck-t4's TinyLlama run (r=32 on q, k, v, o, no dropout, fp16 without autocast, batch 2,
  /// checkpointing, the plain loop) at `sequenceLength` tokens with `attention`, on an 80 GiB
  /// device, with the sequential loader.
  static func tinyLlamaSchedule(sequenceLength: Int64, attention: AttentionImplementation) throws
    -> AllocationSchedule
  {
    let models = try TestData.json(try TestData.calibration("gpu-measured/fitcheck-t4/models.json"))
    var config = try #require(models["TinyLlama/TinyLlama-1.1B-Chat-v1.0"] as? [String: Any])
    config.removeValue(forKey: "parameters")
    let model = try TestData.model(config, name: "tinyllama")
    var setup = TrainingSetup()
    setup.lora = LoRAConfiguration(rank: 32, targets: .modules(["q_proj", "k_proj", "v_proj", "o_proj"]), dropout: 0)
    setup.computeDtype = .fp16
    setup.sequenceLength = sequenceLength
    setup.batchSize = 2
    setup.gradientCheckpointing = true
    setup.attention = attention
    setup.usesAutocast = false
    setup.loop = .plain
    let gpu = GPU.custom(capacity: .gibibytes(80), label: "80GiB")
    return try MemoryEstimator.schedule(model: model, setup: setup, gpu: gpu, loader: .sequential)
  }
}

/// transformers 5's loader: 4 workers stage copies first come first served, never waiting for
/// the main thread, which takes them in order. The times below are written out from the model's
/// constants (2 GB/s read, 2 GB/s copy, 0.2 ms per task, 0.5 ms per tensor taken).
@Suite struct CheckpointLoaderTests {
  @Test func workersStageAheadOfALargeFirstTensor() {
    // Tensor 0 (400 MB): staged at 0.2 ms + 200 ms = 200.2 ms, ready at 400.2 ms.
    // Tensors 1-3 (2 MB) on the other workers: staged at 0.2 + 1 = 1.2 ms, ready at 2.2 ms.
    // Tensor 4 on the first worker free again (2.2 ms): staged at 3.4 ms.
    // The main thread waits for tensor 0: takes it at 400.7 ms, then one every 0.5 ms.
    let steps = CheckpointLoader.threaded(workers: 4).steps(stagingBytes: [
      400_000_000, 2_000_000, 2_000_000, 2_000_000, 2_000_000,
    ])
    #expect(
      steps == [
        .stage(1), .stage(2), .stage(3), .stage(4), .stage(0), .take(0), .take(1), .take(2), .take(3), .take(4),
      ])
  }

  @Test func theMainThreadKeepsUpWithSmallTensors() {
    // 4 MB each: a worker stages at 0.2 + 2 = 2.2 ms and is free at 4.2 ms; tensors 0-3 are
    // staged at 2.2 ms, taken at 4.7, 5.2, 5.7, 6.2 ms; tensor 4 is staged at 4.2 + 2.2 = 6.4 ms.
    let steps = CheckpointLoader.threaded(workers: 4).steps(stagingBytes: Array(repeating: 4_000_000, count: 5))
    #expect(
      steps == [
        .stage(0), .stage(1), .stage(2), .stage(3), .take(0), .take(1), .take(2), .take(3), .stage(4), .take(4),
      ])
  }

  @Test func theSequentialLoaderTakesEachCopyBeforeTheNext() {
    #expect(CheckpointLoader.sequential.steps(stagingBytes: [1, 2]) == [.stage(0), .take(0), .stage(1), .take(1)])
  }

}

extension Recipe {
  /// The recipe with transformers' decoder layers instead of its own kernels.
  var withTransformersLayers: Recipe {
    Recipe(
      name: name, summary: summary, withQuantizedBase: withQuantizedBase, withSixteenBitBase: withSixteenBitBase,
      adapters: adapters, linearRoles: linearRoles, checkpointsByDefault: checkpointsByDefault,
      usesChunkedCrossEntropy: usesChunkedCrossEntropy, chunkedLoss: chunkedLoss, loop: loop, sources: sources,
      offloadsCheckpointInputs: offloadsCheckpointInputs, fusedKernelModelTypes: [], fourBitLayout: fourBitLayout,
      quantizesOutputHead: quantizesOutputHead, loader: loader, allocator: allocator, allLinearToPeft: allLinearToPeft)
  }
}

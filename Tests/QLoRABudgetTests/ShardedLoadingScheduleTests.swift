import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs
@testable import QLoRABudgetValidation

/// FSDP QLoRA as one GPU sees it (``ShardedLoadingSchedule``, ``EngineSharding``), on the
/// fsdp_qlora rows of Tests/Calibration/published/measurements.json (Answer.AI's
/// benchmarks_03_2024.md: Yi-34B on 2 x RTX 3090, rows 094 without and 095 with CPU offload).
/// The expected bytes are written out below from Yi-34B's shapes (hidden 7,168, MLP 20,480, 8
/// key/value heads of 128, vocabulary 64,000, 60 layers) and bitsandbytes' 4-bit layout.
@Suite struct ShardedLoadingScheduleTests {
  static func mapping(_ id: String) throws -> PublishedMapping {
    try #require(PublishedMapping.all.first { $0.id == id })
  }

  /// One Yi-34B layer's 4-bit weights: q, k, v, o, gate, up, down (out x in elements).
  static let layerWeights: [Int64] = [
    7168 * 7168, 1024 * 7168, 1024 * 7168, 7168 * 7168, 20480 * 7168, 20480 * 7168, 7168 * 20480,
  ]

  /// bitsandbytes' statistics of an NF4 weight of `n` elements with double quantization, block
  /// 64: nb = n/64 uint8 absmax, 4*ceil(nb/256) nested fp32 absmax, a 1,024 B nested code, a
  /// 4 B offset and the 64 B code.
  static func statistics(_ n: Int64) -> Int64 {
    let blocks = n / 64
    return blocks + 4 * ((blocks + 255) / 256) + 1024 + 4 + 64
  }

  static let allStatistics = 60 * layerWeights.map(statistics).reduce(0, +)
  static let packed = 60 * layerWeights.map { $0 / 2 }.reduce(0, +)

  /// The allocated bytes at the end of loading and their running maximum there, less the
  /// first allocation (the FSDP gather buffers, allocated first as a pool of their own).
  static func loading(_ schedule: AllocationSchedule) -> (end: Int64, peak: Int64) {
    var live: [Int32: Int64] = [:]
    var allocated: Int64 = 0
    var peak: Int64 = 0
    var first: Int64?
    for event in schedule.events {
      switch event {
      case .allocate(let id, let bytes, _):
        if first == nil { first = bytes }
        live[id] = bytes
        allocated += bytes
        peak = max(peak, allocated)
      case .free(let id):
        allocated -= live.removeValue(forKey: id) ?? 0
      case .phase(let phase):
        if phase == .warmUp { return (allocated - (first ?? 0), peak - (first ?? 0)) }
      }
    }
    return (allocated - (first ?? 0), peak - (first ?? 0))
  }

  @Test func theFourBitStatisticsStayWholeOnEveryGPU() throws {
    #expect(Self.allStatistics == 531_607_440)
    let model = try PresetCatalog.bundled.model(named: "yi-34b")
    let sharded = try MemoryEstimator.estimate(model: model, setup: try Self.mapping("094").setup, gpu: nil)
    let quantized = try #require(sharded.components.first { $0.kind == .quantizedWeights })
    // The packed weights are divided over the 2 GPUs, the statistics are not.
    #expect(quantized.bytes.bytes == Self.packed / 2 + Self.allStatistics)
    // Under CPU offload the packed shards go to the host; the statistics stay on the GPU.
    let offloaded = try MemoryEstimator.estimate(model: model, setup: try Self.mapping("095").setup, gpu: nil)
    let kept = try #require(offloaded.components.first { $0.kind == .quantizedWeights && $0.device == .gpu })
    #expect(kept.bytes.bytes == Self.allStatistics)
  }

  @Test func loadingWrapsTheRootUnitWholeOnTheGPU() throws {
    let model = try PresetCatalog.bundled.model(named: "yi-34b")
    let setup = try Self.mapping("094").setup
    let schedule = try MemoryEstimator.schedule(model: model, setup: setup, gpu: nil, loader: .sequential)
    #expect(AllocationScheduleTests.freesOnlyLiveTensors(schedule))
    // Left on the GPU by loading: every statistic, each layer unit's shard (half its packed
    // weights), each LoRA unit's shard (r = 64 bf16 tensors, one unit each: half of 2 B an
    // element), and the root unit's shard.
    let layerShards = 60 * (Self.layerWeights.map { $0 / 2 }.reduce(0, +) / 2)
    let loraElements: Int64 =
      64 * (7168 + 7168) + 2 * 64 * (7168 + 1024) + 2 * 64 * (7168 + 20480) + 64 * (20480 + 7168)
    let adapterShards = 60 * loraElements
    // The root unit: the bf16 embedding, the final norm and the bf16 lm_head.
    let root: Int64 = 64000 * 7168 * 2 + 7168 * 2 + 64000 * 7168 * 2
    let (end, peak) = Self.loading(schedule)
    #expect(end >= Self.allStatistics + layerShards + adapterShards + root / 2)
    // Its peak: the root's parameters moved whole to the GPU beside the flat parameter
    // `torch.cat` makes of them, before the originals are freed.
    #expect(peak == Self.allStatistics + layerShards + adapterShards + 2 * root)
  }

  @Test func offloadLeavesOnlyTheStatisticsAfterLoading() throws {
    let model = try PresetCatalog.bundled.model(named: "yi-34b")
    let setup = try Self.mapping("095").setup
    let schedule = try MemoryEstimator.schedule(model: model, setup: setup, gpu: nil, loader: .sequential)
    #expect(Self.loading(schedule).end == Self.allStatistics)
  }

  /// The schedule stays the source of the allocated figures: for every fsdp_qlora row, each
  /// phase of the measured step peaks at the breakdown's figure for it, with both loaders.
  @Test func everyFSDPRowScheduleReachesItsPhaseFigures() throws {
    let rows = PublishedMapping.all.filter { $0.setup.gpuCount > 1 && $0.setup.engine == .fsdp }
    #expect(rows.count == 12)
    for row in rows {
      let model = try PresetCatalog.bundled.model(named: row.model)
      let walk = try MemoryEstimator.Walk(model: model, setup: row.setup, gpu: nil)
      let estimate = try MemoryEstimator.estimate(model: model, setup: row.setup, gpu: nil)
      for loader in [CheckpointLoader.sequential, .threaded(workers: 4)] {
        let schedule = walk.schedule(loader: loader)
        #expect(AllocationScheduleTests.freesOnlyLiveTensors(schedule), "\(row.id)")
        let base = estimate.residentBytes + walk.transient.workspaces + (walk.gather?.bytes ?? .zero)
        let measured = schedule.peakAllocatedByPhase.filter { $0.phase != .loading && $0.phase != .warmUp }
        #expect(measured.map(\.phase) == [.forward, .backward, .optimizer], "\(row.id)")
        for (phase, expected) in zip(measured, estimate.step.phases) {
          #expect(phase.bytes == base + expected.bytes, "\(row.id) \(phase.phase)")
        }
      }
    }
  }
}

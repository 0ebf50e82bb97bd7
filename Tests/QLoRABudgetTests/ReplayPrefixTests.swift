import NF4Quantization
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// A replay resumed from a kept prefix (``ReplayPrefixes``) answers what a replay of the same
/// schedule from its start answers: every preset model, under a series of setups as a planner
/// probes them one after another (ranks, sequence lengths, batch, eager attention, Unsloth,
/// allocator settings), each schedule replayed through a prefix store of its own and from the
/// start, the reserves compared whole (the peak, the cached free bytes, the largest free blocks
/// with their tensors, the other loader's peak, the completing peak), and the planners' limited
/// replays and Unsloth's reserved bytes before the loss compared at limits around the peak.
@Suite struct ReplayPrefixTests {
  static let settings: [AllocatorSettings] = [
    .pytorchDefault, AllocatorSettings(expandableSegments: true), AllocatorSettings(maxSplitBytes: 128 << 20),
    AllocatorSettings(roundupPower2Divisions: 4),
  ]

  /// The setups one model is probed with, in order: neighbours share long prefixes (another rank
  /// parts in loading's adapters, another length at the warm-up step), the rest share less.
  static func series(_ index: Int) -> [TrainingSetup] {
    var base = TrainingSetup()
    base.allocatorConfiguration = settings[index % settings.count]
    if index % 3 == 1 { base.recipe = .unsloth }
    var setups: [TrainingSetup] = []
    for (rank, length, batch) in [(16, 1_024, 1), (17, 1_024, 1), (64, 1_024, 1), (64, 2_048, 1), (64, 512, 2)] {
      var setup = base
      setup.lora.rank = Int64(rank)
      setup.sequenceLength = Int64(length)
      setup.batchSize = Int64(batch)
      setups.append(setup)
    }
    var eager = setups[1]
    eager.attention = .eager
    return setups + [eager, setups[0]]
  }

  @Test func resumedReplaysAnswerAsReplaysFromTheStart() throws {
    let catalog = PresetCatalog.bundled
    var models = 0
    var resumed = 0
    for (index, name) in catalog.modelNames.enumerated() {
      let model = try catalog.model(named: name)
      let prefixes = ReplayPrefixes<CachingAllocator>()
      let gpu = GPU.custom(capacity: .gibibytes(index % 2 == 0 ? 24 : 80), label: "gpu")
      var compared = 0
      for setup in Self.series(index) {
        guard let walk = try? MemoryEstimator.Walk(model: model, setup: setup, gpu: gpu) else { continue }
        let loader = setup.recipe.loader
        let schedule = walk.schedule(loader: loader)
        guard schedule.fitsTheAllocatorArithmetic else { continue }
        let other = walk.schedule(loader: loader.alternative)
        let capacity = gpu.capacity - walk.transient.context
        func reserve(_ prefixes: ReplayPrefixes<CachingAllocator>?) -> AllocatorReserve {
          AllocatorReserve.simulate(
            schedule, settings: setup.allocator, loader: loader, capacity: capacity, otherLoader: { other },
            allocator: CachingAllocator.self, memo: nil, prefixes: prefixes)
        }
        let (kept, plain) = (reserve(prefixes), reserve(nil))
        #expect(kept == plain, "\(name) \(setup.lora.rank) \(setup.sequenceLength)")
        #expect(kept.largestFreeBlocks == plain.largestFreeBlocks, "\(name)")
        // A planner's replay stops once the reserve passes its limit.
        let peak = plain.peakReserved.bytes
        for limit in [peak / 2, peak - 1, peak] {
          let a = AllocatorReserve.peakReserved(
            of: schedule, settings: setup.allocator, exceeds: limit, memo: ReplayMemo(), prefixes: prefixes)
          #expect(a == (peak > limit), "\(name) limit \(limit)")
        }
        if let chunk = schedule.firstLossChunk {
          for before in [chunk, chunk / 3] {
            #expect(
              AllocatorReserve.reserved(of: schedule, settings: setup.allocator, before: before, prefixes: prefixes)
                == AllocatorReserve.reserved(of: schedule, settings: setup.allocator, before: before, prefixes: nil),
              "\(name) before \(before)")
          }
        }
        compared += 1
      }
      #expect(compared > 0, "\(name)")
      models += 1
      resumed += prefixes.resumed
    }
    #expect(models == catalog.modelNames.count)
    // Most replays after a model's first resume: the test compares resumed replays.
    #expect(resumed > 3 * models)
  }

  /// A copy of the allocator part way through a random sequence answers as the original for the
  /// rest of it (and both as the oracle): the copy shares no storage with the original. Both
  /// start with room for 16 blocks, so the block buffer grows before the copy and after it.
  @Test func aCopiedAllocatorContinuesAsTheOriginal() {
    let sizes: [Int64] = [1, 512, 4_096, 1 << 20, (1 << 20) + 1, 3 << 20, 20 << 20, 300 << 20]
    for (round, settings) in Self.settings.enumerated() {
      var random = SplitMix64(seed: UInt64(round + 11))
      var original = CachingAllocator(settings: settings, capacity: nil, blockCapacity: 16)
      var oracle = ReferenceCachingAllocator(settings: settings, capacity: nil)
      var live: [(Int32, Int32)] = []
      func step(_ allocator: inout CachingAllocator, _ oracle: inout ReferenceCachingAllocator) {
        if live.isEmpty || random.next() % 100 < 60 {
          let bytes = sizes[Int(random.next() % UInt64(sizes.count))] + Int64(random.next() % 4) * 512
          live.append((allocator.malloc(bytes, .other)!, oracle.malloc(bytes, .other)!))
        } else {
          let (a, b) = live.remove(at: Int(random.next() % UInt64(live.count)))
          allocator.free(a)
          oracle.free(b)
        }
      }
      for _ in 0..<300 { step(&original, &oracle) }
      var copy = original.copy()
      let (saved, savedLive, savedRandom) = (oracle, live, random)
      // The copy and the original run the same 3,000 further steps, each beside the oracle.
      var copyOracle = oracle
      for _ in 0..<3_000 { step(&copy, &copyOracle) }
      (oracle, live, random) = (saved, savedLive, savedRandom)
      for _ in 0..<3_000 { step(&original, &oracle) }
      for (a, b) in [(copy.peakReserved, oracle.peakReserved), (original.peakReserved, oracle.peakReserved)] {
        #expect(a == b, "round \(round)")
      }
      #expect(copy.reserved == oracle.reserved && original.allocated == oracle.allocated, "round \(round)")
      let blocks = oracle.freeBlocks(limit: .max).map(\.bytes)
      #expect(copy.freeBlocks(limit: .max).map(\.bytes) == blocks, "round \(round)")
      #expect(original.freeBlocks(limit: .max).map(\.bytes) == blocks, "round \(round)")
    }
  }
}

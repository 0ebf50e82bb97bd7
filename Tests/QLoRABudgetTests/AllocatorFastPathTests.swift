import Foundation
import NF4Quantization
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The allocator estimates use (``FlatCachingAllocator``) answers exactly as the
/// straightforward one (``ReferenceCachingAllocator``, over ``SortedFreeBlockPool``: the oracle): every preset model's schedule
/// replayed through both, under the schedule baseline's five setups and four allocator
/// settings (rotated over the models), with a capacity small enough for some runs to need the
/// out-of-memory retry. The reserves compare whole: the peak, the cached free bytes, the
/// largest free blocks with their tensors, the other loader's peak and the completing peak.
@Suite struct AllocatorFastPathTests {
  static let settings: [AllocatorSettings] = [
    .pytorchDefault, AllocatorSettings(expandableSegments: true), AllocatorSettings(maxSplitBytes: 128 << 20),
    AllocatorSettings(roundupPower2Divisions: 4),
  ]

  @Test func theFastPoolReplaysEveryPresetExactlyAsTheReference() throws {
    let baseline = try AllocationScheduleTests.Baseline.load()
    let (variants, models) = (baseline.variantNames, baseline.models)
    #expect(models.count > 60 && variants.count == 5)
    var compared = 0
    var completing = 0
    var expandableRetries = 0
    for (index, name) in models.enumerated() {
      let model = try PresetCatalog.bundled.model(named: name)
      var setup = try AllocationScheduleTests.setup(try #require(baseline.variants[variants[index % variants.count]]))
      setup.allocatorConfiguration = Self.settings[index % Self.settings.count]
      // Capacities not in step with the settings: each setting meets both.
      let gpu = GPU.custom(capacity: .gibibytes(index % 3 == 0 ? 80 : 24), label: "gpu")
      let walk = try MemoryEstimator.Walk(model: model, setup: setup, gpu: gpu)
      let loader = setup.recipe.loader
      let schedule = walk.schedule(loader: loader)
      let other = walk.schedule(loader: loader.alternative)
      let capacity = gpu.capacity - walk.transient.context
      let fast = AllocatorReserve.simulate(
        schedule, settings: setup.allocator, loader: loader, capacity: capacity, otherLoader: { other },
        allocator: CachingAllocator.self)
      let reference = AllocatorReserve.simulate(
        schedule, settings: setup.allocator, loader: loader, capacity: capacity, otherLoader: { other },
        pool: SortedFreeBlockPool.self)
      #expect(fast == reference, "\(name) \(setup.allocator.configuration)")
      #expect(fast.largestFreeBlocks == reference.largestFreeBlocks, "\(name)")
      compared += 1
      #expect(fast.completingPeakReserved == reference.completingPeakReserved, "\(name)")
      if reference.completingPeakReserved != nil { completing += 1 }
      // Over the capacity, the completing replay runs into out-of-memory retries.
      if setup.allocator.expandableSegments && reference.peakReserved > capacity { expandableRetries += 1 }
    }
    #expect(compared == models.count)
    // The out-of-memory retry path is exercised too, expandable segments' included.
    #expect(completing > 0 && expandableRetries > 0, "\(completing) completing, \(expandableRetries) expandable over")
  }

  /// A schedule met again takes its run from the memo: the same reserve as the reference
  /// replay under another capacity (the completing peak is computed for each), and a different
  /// schedule (the other loader) is replayed, not confused with it.
  @Test func theReplayMemoAnswersExactlyForAScheduleMetAgain() throws {
    let model = try PresetCatalog.bundled.model(named: "qwen3-8b")
    var setup = TrainingSetup()
    setup.attention = .eager
    setup.batchSize = 4
    let walk = try MemoryEstimator.Walk(model: model, setup: setup, gpu: nil)
    let loader = setup.recipe.loader
    let schedule = walk.schedule(loader: loader)
    let other = walk.schedule(loader: loader.alternative)
    let memo = ReplayMemo()
    for (capacity, again) in [(ByteCount.gibibytes(80), schedule), (.gibibytes(16), schedule), (.gibibytes(16), other)]
    {
      let remembered = AllocatorReserve.simulate(
        again, settings: setup.allocator, loader: loader, capacity: capacity, otherLoader: { other },
        allocator: CachingAllocator.self, memo: memo)
      let reference = AllocatorReserve.simulate(
        again, settings: setup.allocator, loader: loader, capacity: capacity, otherLoader: { other },
        pool: SortedFreeBlockPool.self)
      #expect(remembered == reference)
      #expect(remembered.completingPeakReserved == reference.completingPeakReserved)
    }
    #expect(memo.hits == 1)
  }

  /// Random mallocs and frees, step by step through the fast allocator and the oracle, under
  /// each setting and a capacity that forces out-of-memory retries: thousands of blocks live
  /// at once (``ReplayPrefixTests`` grows the block buffer from a few slots), many of one
  /// size (long lists in one size class, inserted into and searched from both ends), sizes from
  /// 1 B to 300 MiB in both pools. After every step the two agree on every figure and on every free
  /// block with its tensor.
  @Test func randomSequencesAgreeWithTheOracleAtEveryStep() {
    let sizes: [Int64] = [1, 511, 512, 4_096, 1 << 20, (1 << 20) + 1, 3 << 20, 12 << 20, 20 << 20, 300 << 20]
    let tensors = ScheduledTensor.allCases
    for (round, settings) in Self.settings.enumerated() {
      for capacity in [nil, Int64(6) << 30] as [Int64?] {
        var random = SplitMix64(seed: UInt64(round + 1))
        var pair = LockstepAllocators(settings: settings, capacity: capacity)
        for step in 0..<12_000 {
          // Mostly allocations early (thousands live), mostly frees late.
          if pair.live.isEmpty || random.next() % 100 < (step < 6_000 ? 70 : 30) {
            let base = sizes[Int(random.next() % UInt64(sizes.count))]
            let bytes = base + Int64(random.next() % 4) * 512
            let tensor = tensors[Int(random.next() % UInt64(tensors.count))]
            let agreed = pair.malloc(bytes, tensor)
            #expect(agreed, "round \(round) step \(step)")
          } else {
            pair.freeOne(&random)
          }
          let same = pair.sameFigures && pair.fast.peakAllocated == pair.oracle.peakAllocated
          #expect(same, "round \(round) step \(step)")
          if !same { return }
          if step % 500 == 0 || step == 11_999 {
            let (x, y) = (pair.fast.freeBlocks(limit: .max), pair.oracle.freeBlocks(limit: .max))
            #expect(x.map(\.bytes) == y.map(\.bytes) && x.map(\.tensor) == y.map(\.tensor), "round \(round)")
          }
        }
        if capacity != nil { #expect(pair.fast.retries > 0 && pair.failures > 0, "round \(round)") }
      }
    }
  }

  /// Expandable segments under a capacity that forces out-of-memory retries every few dozen
  /// steps: releases unmap free pages in the middle of both pools' segments and later requests
  /// map into those gaps. Step by step the fast allocator and the oracle agree on every figure,
  /// every free block and every unmapped range; gaps (more than one unmapped range) appear and
  /// are filled again.
  @Test func expandableSegmentsAgreeWithTheOracleThroughOutOfMemoryRetries() {
    let sizes: [Int64] = [700, 300 << 10, 1 << 20, 3 << 20, 9 << 20, 20 << 20, 45 << 20, 130 << 20]
    for (round, settings) in [
      AllocatorSettings(expandableSegments: true),
      AllocatorSettings(expandableSegments: true, roundupPower2Divisions: 16),
    ].enumerated() {
      var random = SplitMix64(seed: UInt64(100 + round))
      var pair = LockstepAllocators(settings: settings, capacity: Int64(1) << 30)
      var mostGaps = 0
      var gapsFilled = 0
      func gaps() -> Int { pair.fast.unmappedRanges(small: false).count + pair.fast.unmappedRanges(small: true).count }
      for step in 0..<8_000 {
        let gapsBefore = gaps()
        let retriesBefore = pair.fast.retries
        if pair.live.isEmpty || random.next() % 100 < 55 {
          let bytes = sizes[Int(random.next() % UInt64(sizes.count))] + Int64(random.next() % 64) * 512
          let agreed = pair.malloc(bytes, .other)
          #expect(agreed, "round \(round) step \(step)")
        } else {
          pair.freeOne(&random)
        }
        let same =
          pair.sameFigures && pair.fast.unmappedRanges(small: false) == pair.oracle.unmappedRanges(small: false)
          && pair.fast.unmappedRanges(small: true) == pair.oracle.unmappedRanges(small: true)
          && pair.fast.freeBlocks(limit: .max).map(\.bytes) == pair.oracle.freeBlocks(limit: .max).map(\.bytes)
        #expect(same, "round \(round) step \(step)")
        if !same { return }
        mostGaps = max(mostGaps, gaps())
        if gaps() < gapsBefore && pair.fast.retries == retriesBefore { gapsFilled += 1 }
      }
      #expect(pair.fast.retries > 20 && pair.failures > 0, "round \(round)")
      #expect(mostGaps > 4 && gapsFilled > 0, "round \(round): \(mostGaps) ranges at most, \(gapsFilled) filled")
    }
  }
}

/// The fast allocator and the oracle driven by the same mallocs and frees.
private struct LockstepAllocators: ~Copyable {
  var fast: CachingAllocator
  var oracle: ReferenceCachingAllocator
  var live: [(fast: Int32, oracle: Int32)] = []
  /// Requests both refused (out of memory after the retry).
  var failures = 0

  init(settings: AllocatorSettings, capacity: Int64?) {
    fast = CachingAllocator(settings: settings, capacity: capacity)
    oracle = ReferenceCachingAllocator(settings: settings, capacity: capacity)
  }

  /// Requests `bytes` of both; false when one succeeded and the other did not.
  mutating func malloc(_ bytes: Int64, _ tensor: ScheduledTensor) -> Bool {
    let (a, b) = (fast.malloc(bytes, tensor), oracle.malloc(bytes, tensor))
    if let a, let b { live.append((a, b)) } else { failures += 1 }
    return (a == nil) == (b == nil)
  }

  /// Frees the same randomly chosen live block in both.
  mutating func freeOne(_ random: inout SplitMix64) {
    let (a, b) = live.remove(at: Int(random.next() % UInt64(live.count)))
    fast.free(a)
    oracle.free(b)
  }

  /// Allocated, reserved, peak reserved and retries agree.
  var sameFigures: Bool {
    fast.allocated == oracle.allocated && fast.reserved == oracle.reserved && fast.peakReserved == oracle.peakReserved
      && fast.retries == oracle.retries
  }
}

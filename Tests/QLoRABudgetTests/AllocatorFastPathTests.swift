import Foundation
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
    let data = try TestData.calibration("schedule/main-peak-allocated.json")
    let baseline = try JSONDecoder().decode(AllocationScheduleTests.Baseline.self, from: data)
    let variants = baseline.variants.keys.sorted()
    let models = Array(Set(baseline.rows.map(\.model))).sorted()
    #expect(models.count > 60 && variants.count == 5)
    var compared = 0
    var completing = 0
    for (index, name) in models.enumerated() {
      let model = try PresetCatalog.bundled.model(named: name)
      var setup = try AllocationScheduleTests.setup(try #require(baseline.variants[variants[index % variants.count]]))
      setup.allocatorConfiguration = Self.settings[index % Self.settings.count]
      let gpu = GPU.custom(capacity: .gibibytes(index % 2 == 0 ? 24 : 80), label: "gpu")
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
      if reference.completingPeakReserved != nil { completing += 1 }
    }
    #expect(compared == models.count)
    // The out-of-memory retry path is exercised too.
    #expect(completing > 0)
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
}

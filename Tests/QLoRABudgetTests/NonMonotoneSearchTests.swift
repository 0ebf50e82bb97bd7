import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The planners' searches when the verdict is not monotone (the simulated reserve can fall as
/// a setting grows): what is guaranteed, on functions whose answers are worked out by hand, and
/// on the estimator with the verdict rule written out in ``PlannerTests/verdict(_:_:_:)``.
@Suite struct NonMonotoneSearchTests {
  static let presets = PresetCatalog.bundled

  /// A dip at the top: the bound holds up to 100, 99 and 100 are rejected. Walk: 100 (no),
  /// 99 (no), 97 (yes); bisect 97..99: 98 (yes). Answer 98.
  @Test func aDipBelowTheBoundIsWalkedDown() {
    var probes: [Int64] = []
    let found = Bisection.largest(in: 1...1_000, bound: { $0 <= 100 }) { (x: Int64) -> Bool in
      probes.append(x)
      return x <= 98
    }
    #expect(found == 98)
    #expect(probes == [100, 99, 97, 98])
  }

  /// A pocket: accepted up to 50 and again on 60...70; the bound holds up to 80. The walk
  /// from 80 goes 80, 79, 77, 73 (rejected), 65 (accepted), then bisects 65..73: 69, 71, 70.
  /// Answer 70, never 50.
  @Test func aPocketAboveALowerRunIsFound() {
    let accepts = { (x: Int64) -> Bool in x <= 50 || (60...70).contains(x) }
    var probes: [Int64] = []
    let found = Bisection.largest(in: 1...1_000, bound: { $0 <= 80 }) { (x: Int64) -> Bool in
      probes.append(x)
      return accepts(x)
    }
    #expect(found == 70)
    #expect(probes == [80, 79, 77, 73, 65, 69, 71, 70])
    // The plain bisection on the same function can stop in the lower run: on 1...120 it probes
    // 120, 60 (accepted), 90, 75, 67 (accepted), 71, 69, 70 -> 70; on 1...104 it probes 104,
    // 52 (rejected), 26 (accepted), 39, 45, 48, 50, 51 -> 50.
    #expect(Bisection.largest(in: 1...104, where: accepts) == 50)
    #expect(Bisection.largest(in: 1...104, bound: { $0 <= 80 }, where: accepts) == 70)
  }

  /// Nothing accepted down to the lower bound: nil; the bound failing at once: nil.
  @Test func nothingAcceptedGivesNil() {
    #expect(Bisection.largest(in: 1...64, bound: { $0 <= 10 }) { (_: Int64) -> Bool in false } == nil)
    #expect(Bisection.largest(in: 5...64, bound: { $0 < 5 }) { (_: Int64) -> Bool in true } == nil)
  }

  /// Mirrored: the bound holds from 12 up; 12 and 13 are rejected, 15 accepted, 14 not.
  /// Walk up: 12, 13, 15 (accepted); bisect 13..15: 14 (no). Answer 15.
  @Test func smallestWalksUpFromTheBound() {
    let found = Bisection.smallest(in: 1...100, bound: { $0 >= 12 }) { (x: Int64) -> Bool in x >= 15 }
    #expect(found == 15)
    #expect(Bisection.smallest(in: 1...100, bound: { $0 >= 12 }) { (x: Int64) -> Bool in x >= 12 } == 12)
  }

  /// The floor the planners bisect on: the peak allocated plus the context, never above the
  /// process peak, and monotone where the process peak is not.
  @Test func theFloorIsAllocatedPlusTheContext() throws {
    let model = try Self.presets.model(named: "qwen2.5-0.5b")
    let gpu = try Self.presets.gpu(named: "a100-40gb")
    var setup = TrainingSetup()
    setup.attention = .eager
    setup.batchSize = 4
    setup.sequenceLength = 3_200
    let evaluation = try Evaluation(setup: setup, gpu: gpu, model: model)
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
    #expect(evaluation.floor <= evaluation.bytes)
    #expect(
      evaluation.floor.bytes == estimate.peak.allocated.bytes
        + (estimate.peak.process.bytes - estimate.peak.reserved.bytes))
    #expect(evaluation.headroom == gpu.capacity.bytes - estimate.peak.process.bytes)
  }

  /// On eager attention (the most irregular reserve), the largest sequence length and batch:
  /// each answer's verdict is fit's at that value (the written-out rule), the next value is not
  /// accepted, and below the answers every value a hole names has that hole's verdict. A batch
  /// is judged value by value (exhaustive); a sequence length's boundary is past the scan limit,
  /// so it is walked to and bisected (``Bisection/largest(in:bound:where:)``, about 80 probes).
  @Test(arguments: [
    ("qwen2.5-0.5b", "a100-40gb", Setting.sequenceLength), ("qwen2.5-0.5b", "t4", .batchSize),
    ("llama-3.2-1b", "l4", .sequenceLength), ("llama-3.2-1b", "rtx-4090", .batchSize),
  ])
  func answersHoldAtBothEnds(modelName: String, gpuName: String, setting: Setting) throws {
    let model = try Self.presets.model(named: modelName)
    let gpu = try Self.presets.gpu(named: gpuName)
    var setup = TrainingSetup()
    setup.attention = .eager
    setup.batchSize = 4
    setup.computeDtype = gpu.supportsBFloat16 ? .bf16 : .fp16
    let answer = try Planner(model: model, setup: setup, gpu: gpu).largest(setting)
    func verdict(_ value: Int64) throws -> String {
      try PlannerTests.verdict(model, try #require(setting.change(to: value)).applied(to: setup), gpu)
    }
    #expect(answer.isExhaustive == (setting == .batchSize))
    let fitting = try #require(answer.fitting)
    #expect(try verdict(fitting.value) == "fits")
    #expect(fitting.evaluation.verdict == .fits)
    #expect(try verdict(fitting.value + 1) != "fits")
    let mayFit = try #require(answer.mayFit)
    #expect(try verdict(mayFit.value) == mayFit.evaluation.verdict.rawValue)
    #expect(try verdict(mayFit.value) != "does_not_fit")
    #expect(try verdict(mayFit.value + 1) == "does_not_fit")
    for hole in answer.holes {
      for value in hole.values { #expect(try verdict(value) == hole.verdict.rawValue, "\(value)") }
    }
    // Exhaustive: the floor's bisection (18 probes at most over 1...65,536) and at most the
    // scan limit's values; otherwise two walks and bisections.
    #expect(answer.probes <= (answer.isExhaustive ? Int(Planner.scanLimit) + 20 : 80))
  }

  /// Expandable segments is offered when the cached free blocks are the difference: Qwen2.5-0.5B,
  /// eager attention, 4 x 4,096 tokens holds far more reserved than allocated; on a 44 GiB
  /// device it passes the card as simulated (tight: it completes once the allocator releases its
  /// cache) and fits with expandable segments (the written-out rule).
  @Test func expandableSegmentsIsAChangeWhenFragmentationIsTheDifference() throws {
    let model = try Self.presets.model(named: "qwen2.5-0.5b")
    let gpu = GPU.custom(capacity: .gibibytes(44), label: "44GiB")
    var setup = TrainingSetup()
    setup.attention = .eager
    setup.batchSize = 4
    setup.sequenceLength = 4_096
    #expect(try PlannerTests.verdict(model, setup, gpu) == "tight")
    #expect(try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu).peak.process > gpu.capacity)
    let changes = try Planner(model: model, setup: setup, gpu: gpu).changes()
    let expandable = try #require(changes.first { $0.kind == .expandableSegments })
    #expect(expandable.cost == .nothing)
    #expect(expandable.evaluation.setup.allocator.expandableSegments)
    #expect(try PlannerTests.verdict(model, expandable.evaluation.setup, gpu) == "fits")
    // Already on: not offered again.
    setup.allocatorConfiguration = AllocatorSettings(expandableSegments: true)
    #expect(try Planner(model: model, setup: setup, gpu: gpu).changes().allSatisfy { $0.kind != .expandableSegments })
  }
}

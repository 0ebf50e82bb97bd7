import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// `solve`'s largest values are exact: every value of the setting is judged here with the
/// single-setup estimator (`fit`'s path, ``MemoryEstimator/estimate(model:setup:gpu:)``'s
/// verdict), and the planner's answers must be the largest `fits` and the largest `fits` or
/// `tight` of those, with the values below them that are not reported as holes, all of them
/// and only them. The cases are ones where the simulated reserve is not monotone.
@Suite struct PlannerExactnessTests {
  static let presets = PresetCatalog.bundled

  /// A case: the setup (defaults, then these changes) and the setting searched.
  struct Case: Sendable, CustomStringConvertible {
    let model: String
    let gpu: String
    let changes: [SettingChange]
    let setting: Setting
    /// Whether the case has values below an answer that are not accepted (found by this
    /// test's own scan when the case was chosen; checked so the case keeps testing holes).
    let hasHoles: Bool

    var description: String { "\(model) \(gpu) \(setting.label)" }
  }

  static let cases: [Case] = [
    // Rank 46 fits, 47...51 do not, 52 and 53 fit again.
    Case(model: "qwen3-14b", gpu: "rtx-4090", changes: [], setting: .rank, hasHoles: true),
    // Nothing fits; rank 17 is tight, 18 does not fit, and higher ranks are tight again.
    Case(model: "qwen3-14b", gpu: "a100-40gb", changes: [.sequenceLength(8_192)], setting: .rank, hasHoles: true),
    Case(
      model: "llama-3.2-1b", gpu: "rtx-4090", changes: [.attention(.eager), .batchSize(4)], setting: .batchSize,
      hasHoles: false),
    Case(
      model: "qwen2.5-0.5b", gpu: "t4", changes: [.attention(.eager), .computeDtype(.fp16)], setting: .batchSize,
      hasHoles: false),
    // Unsloth: its loss chunks follow each rank's free memory, and the search bisects its bound.
    Case(model: "llama-3.1-8b", gpu: "rtx-3060-12gb", changes: [.recipe(.unsloth)], setting: .rank, hasHoles: false),
  ]

  /// fit's verdict for every value from 1 up to the first whose floor (peak allocated plus
  /// the context, which never falls as the setting grows: MonotonicityTests) is over the
  /// capacity: no value from there on can be accepted.
  static func verdicts(_ model: ModelArchitecture, _ setup: TrainingSetup, _ gpu: GPU, _ setting: Setting) throws
    -> [Verdict]
  {
    var verdicts: [Verdict] = []
    for value in Int64(1)...(setting.searchRange?.upperBound ?? 1) {
      let changed = try #require(setting.change(to: value)).applied(to: setup)
      let estimate = try MemoryEstimator.estimate(model: model, setup: changed, gpu: gpu)
      verdicts.append(try #require(estimate.verdict))
      let peak = estimate.peak
      if (peak.allocated + (peak.process - peak.reserved)).bytes > gpu.capacity.bytes { break }
    }
    return verdicts
  }

  @Test(arguments: cases)
  func answersAreTheLargestAndHolesAreEveryValueBelowThatIsNot(_ testCase: Case) throws {
    let model = try Self.presets.model(named: testCase.model)
    let gpu = try Self.presets.gpu(named: testCase.gpu)
    let setup = SettingChange.apply(testCase.changes, to: TrainingSetup())
    let answer = try Planner(model: model, setup: setup, gpu: gpu).largest(testCase.setting)
    let verdicts = try Self.verdicts(model, setup, gpu, testCase.setting)
    #expect(verdicts.last == .doesNotFit, "the scan ends past every accepted value")
    let verdict = { (value: Int64) in verdicts[Int(value - 1)] }
    let values = Int64(1)...Int64(verdicts.count)

    let fitting = values.last { verdict($0) == .fits }
    let mayFit = values.last { verdict($0) != .doesNotFit }
    #expect(answer.isExhaustive)
    #expect(answer.fitting?.value == fitting)
    #expect(answer.mayFit?.value == mayFit)
    if let found = answer.fitting { #expect(found.evaluation.verdict == verdict(found.value)) }
    if let found = answer.mayFit { #expect(found.evaluation.verdict == verdict(found.value)) }

    // Holes: below the fits answer, every value that does not fit as-is; below the tight
    // answer, every value that does not fit at all.
    var expected: [Int64: Verdict] = [:]
    for value in values {
      let judged = verdict(value)
      if value < fitting ?? 0, judged != .fits { expected[value] = judged }
      if value < mayFit ?? 0, judged == .doesNotFit { expected[value] = judged }
    }
    var reported: [Int64: Verdict] = [:]
    for hole in answer.holes {
      for value in hole.values { #expect(reported.updateValue(hole.verdict, forKey: value) == nil, "\(value) twice") }
    }
    #expect(reported == expected)
    #expect(!answer.holes.isEmpty == testCase.hasHoles)
    // Runs are maximal and ascending: no two adjacent runs of one verdict.
    for (low, high) in zip(answer.holes, answer.holes.dropFirst()) {
      #expect(low.values.upperBound < high.values.lowerBound)
      #expect(low.verdict != high.verdict || low.values.upperBound + 1 < high.values.lowerBound)
    }
  }

  /// fit's change to a lower rank is solve's answer when that is below the rank asked: rank 64
  /// of Qwen3-14B on an RTX 4090 does not fit as-is, rank 46 (the last before the hole at 47)
  /// is not the largest that fits.
  @Test func lowerRankChangeIsSolvesAnswer() throws {
    let model = try Self.presets.model(named: "qwen3-14b")
    let gpu = try Self.presets.gpu(named: "rtx-4090")
    var setup = TrainingSetup()
    setup.lora.rank = 64
    let planner = Planner(model: model, setup: setup, gpu: gpu)
    #expect(try planner.evaluate(setup).verdict != .fits)
    let answer = try planner.largest(.rank)
    let solved = try #require(answer.fitting?.value)
    #expect(solved < 64)
    let change = try #require(try planner.changes().first { $0.kind == .lowerRank })
    #expect(change.evaluation.setup.lora.rank == solved)
    #expect(change.evaluation.verdict == .fits)
  }

  /// Past the scan limit (a sequence length's boundary is thousands of tokens) the answer is
  /// walked to and bisected: marked not exhaustive, no holes claimed, and each answer is
  /// accepted with the next value not (fit's verdict on both).
  @Test func pastTheScanLimitTheAnswerIsMarkedNotExhaustive() throws {
    let model = try Self.presets.model(named: "qwen3-14b")
    let gpu = try Self.presets.gpu(named: "rtx-4090")
    let setup = TrainingSetup()
    let answer = try Planner(model: model, setup: setup, gpu: gpu).largest(.sequenceLength)
    #expect(!answer.isExhaustive)
    #expect(answer.holes.isEmpty)
    func verdict(_ value: Int64) throws -> Verdict {
      try #require(
        try MemoryEstimator.estimate(
          model: model, setup: SettingChange.apply([.sequenceLength(value)], to: setup), gpu: gpu
        )
        .verdict)
    }
    let fitting = try #require(answer.fitting)
    #expect(fitting.value > Planner.scanLimit)
    #expect(try verdict(fitting.value) == .fits)
    #expect(try verdict(fitting.value + 1) != .fits)
    let mayFit = try #require(answer.mayFit)
    #expect(try verdict(mayFit.value) != .doesNotFit)
    #expect(try verdict(mayFit.value + 1) == .doesNotFit)
  }
}

import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// One rule per setting (issue 20): alpha follows the rank, the loss is one value, the block
/// size one list, and every setting reads back its own values.
@Suite struct SettingRulesTests {
  @Test func alphaFollowsTheRankUntilGiven() {
    var lora = LoRAConfiguration(rank: 8)
    #expect(lora.alpha == 16)
    lora.rank = 64
    #expect(lora.alpha == 128)
    lora.alpha = 32
    lora.rank = 8
    #expect(lora.alpha == 32)
    var setup = TrainingSetup()
    setup = SettingChange.rank(4).applied(to: setup)
    #expect(setup.lora.alpha == 8)
    // The same values compare equal, given or followed.
    #expect(LoRAConfiguration(rank: 8) == LoRAConfiguration(rank: 8, alpha: 16))
  }

  @Test func theLossReadsBackAsGiven() {
    for kind in LossKind.allCases {
      var setup = TrainingSetup()
      setup.recipe = .unsloth
      setup = SettingChange.loss(kind).applied(to: setup)
      #expect(Setting.loss.current(in: setup) == .loss(kind))
    }
  }

  /// bitsandbytes' block sizes: the powers of two from 32 to 4096, written out.
  @Test func blockSizesAreBitsandbytes() throws {
    let powers = (5...12).map { Int64(1) << $0 }
    for size in Int64(1)...8192 {
      var setup = TrainingSetup()
      setup.blockSize = size
      let parsed = try? Setting.blockSize.parse(String(size))
      #expect((parsed != nil) == powers.contains(size), "\(size)")
      #expect(((try? setup.validate()) != nil) == powers.contains(size), "\(size)")
    }
  }

  /// Every setting reads its own value back as a change of itself (a `default:` arm once sent
  /// other settings' values elsewhere).
  @Test(arguments: Setting.allCases)
  func everySettingReadsItsValueBack(_ setting: Setting) throws {
    var setup = TrainingSetup()
    setup.engine = .zero3
    let current = setting.current(in: setup)
    let parsed = try setting.parse(current.valueText)
    #expect(parsed.setting == setting)
    #expect(parsed.valueText == current.valueText)
  }
}

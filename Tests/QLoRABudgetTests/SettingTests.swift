import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The vocabulary of settings: every setting reads back what it writes, rejects what it does
/// not allow (naming itself), and the named variants are changes of these settings.
@Suite struct SettingTests {
  @Test(arguments: Setting.allCases)
  func everySettingReadsBackItsOwnValue(setting: Setting) throws {
    var setup = TrainingSetup()
    setup.isFullFineTune = setting == .fullFineTunePrecision
    let current = setting.current(in: setup)
    #expect(current.setting == setting)
    #expect(try setting.parse(current.valueText) == current)
    // Settings whose default is the recipe's (nil in the setup) read back as an explicit value.
    #expect(
      current.applied(to: setup) == setup
        || [.gradientCheckpointing, .loss, .loop, .allocator, .loraDropout, .attention].contains(setting))
    if case .choices(let names) = setting.domain {
      for name in names {
        let change = try setting.parse(name.uppercased())
        #expect(change.valueText == name)
        #expect(change.applied(to: setup).validationPasses)
      }
    }
  }

  @Test(arguments: [
    (Setting.rank, "0"), (.rank, "65537"), (.rank, "x"), (.sequenceLength, "-1"), (.blockSize, "16"),
    (.loraDropout, "1"), (.loraDropout, "nan"), (.alpha, "inf"), (.optimizer, "adam"), (.recipe, "hf"),
    (.doubleQuantization, "maybe"), (.targets, "q_proj,,v_proj"), (.fullFineTunePrecision, "fp8"),
    // Double.init reads hexadecimal; a setting does not.
    (.alpha, "0x10"), (.loraDropout, "0x1p-4"), (.reduceBucketSize, "0x100"),
  ])
  func invalidValuesNameTheSetting(setting: Setting, text: String) {
    do {
      _ = try setting.parse(text)
      Issue.record("\(setting) accepted '\(text)'")
    } catch {
      #expect(error.setting == setting)
      #expect(error.value == text)
      #expect(error.description.hasPrefix(setting.label))
    }
  }

  @Test func aChoiceSuggestsTheClosestSpelling() {
    do {
      _ = try Setting.optimizer.parse("paged-adamw-8bt")
      Issue.record("accepted a misspelling")
    } catch {
      #expect(error.expected.contains("Did you mean 'paged-adamw-8bit'?"))
    }
  }

  @Test func searchableSettingsAreWholeNumbersWithARange() {
    for setting in Setting.allCases {
      #expect((setting.searchRange != nil) == Setting.searchable.contains(setting))
    }
    #expect(Setting.rank.searchRange == 1...LoRAConfiguration.maximumRank)
    #expect(Setting.rank.change(to: 7)?.applied(to: TrainingSetup()).lora.rank == 7)
  }

  @Test func variantsAreChangesOfSettings() throws {
    var base = TrainingSetup()
    base.quantization = .fp4
    // qlora keeps a 4-bit base's own type; lora-16bit drops quantization; they join with '+'.
    #expect(try SetupVariant.named("qlora").applied(to: base).quantization == .fp4)
    #expect(try SetupVariant.named("lora-16bit").changes(for: base) == [.fullFineTune(false), .quantization(.none)])
    let joined = try SetupVariant.named("lora-16bit+paged-adamw-8bit+no-grad-ckpt").applied(to: base)
    #expect(
      joined.quantization == .none && joined.optimizer == .pagedAdamw8bit && joined.gradientCheckpointing == false)
    #expect(try SetupVariant.named("as-given").applied(to: base) == base)
    // Every value of the attention, optimizer, recipe and loss settings is a variant.
    for name in ["eager", "flash", "adamw-8bit", "unsloth", "hf-peft-tf4", "chunked"] {
      #expect(SetupVariant.all.contains { $0.name == name }, "\(name)")
    }
    #expect(throws: SettingValueError.self) { try SetupVariant.named("qlora+lora-16bt") }
  }

  /// Two variants that choose the same thing contradict each other; joined, the last would win
  /// silently (`compare --setups adamw-8bit+paged-adamw-8bit` judged paged AdamW 8-bit, where
  /// `fit` refuses two `--optimizer`s). Variants that change different things still join.
  @Test func variantsThatChooseTheSameThingDoNotJoin() throws {
    for (joined, first, second, what) in [
      ("adamw-8bit+paged-adamw-8bit", "adamw-8bit", "paged-adamw-8bit", "optimizer"),
      ("qlora+full-finetune", "qlora", "full-finetune", "fine-tuning method"),
      ("nf4+fp4", "nf4", "fp4", "base quantization"), ("dq+no-dq", "dq", "no-dq", "double quantization"),
      ("unsloth+lora-16bit+axolotl", "unsloth", "axolotl", "recipe"),
      // A 16-bit base, int8 base or full fine-tuning leaves no 4-bit type to name.
      ("lora-16bit+fp4", "lora-16bit", "fp4", "base quantization"),
      ("nf4+lora-int8", "nf4", "lora-int8", "base quantization"),
    ] {
      do {
        _ = try SetupVariant.named(joined)
        Issue.record("'\(joined)' was accepted")
      } catch {
        #expect(error.value == joined)
        #expect(error.expected.hasPrefix("'\(first)' and '\(second)' both set the \(what)"), "\(error.expected)")
      }
    }
    var base = TrainingSetup()
    base.quantization = .fp4
    let joined = try SetupVariant.named("lora-16bit+adamw-8bit+no-grad-ckpt").applied(to: base)
    #expect(joined.quantization == BaseQuantization.none && joined.optimizer == .adamw8bit)
    #expect(joined.gradientCheckpointing == false)
    // qlora keeps a 4-bit base's type; fp4 then names it: a refinement, not a contradiction.
    #expect(try SetupVariant.named("qlora+fp4").applied(to: TrainingSetup()).quantization == .fp4)
  }

  @Test func theGridCrossesEveryModelRankAndLength() throws {
    let models = try ["qwen3-0.6b", "qwen3-4b"].map { try PresetCatalog.bundled.model(named: $0) }
    let gpus = try ["t4", "h100-80gb"].map { try PresetCatalog.bundled.gpu(named: $0) }
    let grid = try PlanningGrid(
      models: models, ranks: [8, 64], sequenceLengths: [512, 1024, 4096], gpus: gpus, base: TrainingSetup())
    let rows = try grid.allRows()
    #expect(grid.cellCount == 2 * 2 * 3 * 2)
    #expect(rows.count == 2 * 2 * 3)
    #expect(rows.allSatisfy { $0.cells.count == 2 })
    #expect(rows.map(\.setup.lora.rank) == [8, 8, 8, 64, 64, 64, 8, 8, 8, 64, 64, 64])
    #expect(
      rows.map(\.model.name) == Array(repeating: models[0].name, count: 6) + Array(repeating: models[1].name, count: 6))
    #expect(rows.map(\.setup.sequenceLength).prefix(3) == [512, 1024, 4096])
    var full = TrainingSetup()
    full.isFullFineTune = true
    // Full fine-tuning has no rank: one row per model and length.
    let fullGrid = try PlanningGrid(models: models, ranks: [8, 64], sequenceLengths: [512], gpus: gpus, base: full)
    #expect(try fullGrid.allRows().count == 2)
  }
}

extension PlanningGrid {
  /// Every row, collected (tests only: the CLI writes each row as it comes).
  func allRows() throws -> [Row] {
    var rows = self.rows()
    var all: [Row] = []
    while let row = try rows.next() { all.append(row) }
    return all
  }
}

extension TrainingSetup {
  fileprivate var validationPasses: Bool { (try? validate()) != nil }
}

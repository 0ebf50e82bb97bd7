/// A named change to a setup, as `compare` lists them: the fine-tuning methods (`qlora`,
/// `lora-16bit`, `lora-int8`, `full-finetune`), the switches (`nf4`, `fp4`, `dq`, `no-dq`,
/// `grad-ckpt`, `no-grad-ckpt`, `as-given`), and every value of the attention, optimizer,
/// recipe and loss settings under its own name. Variants join with `+`
/// (`lora-16bit+adamw-8bit`).
public struct SetupVariant: Hashable, Sendable {
  public let name: String
  /// What the variant chooses (the fine-tuning method, the optimizer, ...): two variants that
  /// choose the same thing cannot be joined (`adamw-8bit+paged-adamw-8bit` would silently keep
  /// the last). `lora-16bit`, `lora-int8` and `full-finetune` choose the base quantization too
  /// (none, int8, none at all), while `qlora` leaves the 4-bit type to `nf4` or `fp4`.
  let chooses: [String]
  /// The changes, given the setup they apply to (`qlora` keeps an FP4 base FP4).
  private let makeChanges: @Sendable (TrainingSetup) -> [SettingChange]

  public static func == (a: SetupVariant, b: SetupVariant) -> Bool { a.name == b.name }
  public func hash(into hasher: inout Hasher) { hasher.combine(name) }

  public func changes(for base: TrainingSetup) -> [SettingChange] { makeChanges(base) }

  public func applied(to base: TrainingSetup) -> TrainingSetup { SettingChange.apply(changes(for: base), to: base) }

  init(_ name: String, chooses: [String], _ changes: @escaping @Sendable (TrainingSetup) -> [SettingChange]) {
    self.name = name
    self.chooses = chooses
    makeChanges = changes
  }

  /// The methods compared when no variant is named.
  public static let methods: [SetupVariant] = [qlora, lora16bit, fullFineTune]

  static let method = "fine-tuning method"
  static let quantization = Setting.quantization.label
  static let qlora = SetupVariant("qlora", chooses: [method]) { base in
    [.fullFineTune(false), .quantization(base.quantization.isFourBit ? base.quantization : .nf4)]
  }
  static let lora16bit = SetupVariant("lora-16bit", chooses: [method, quantization]) { _ in
    [.fullFineTune(false), .quantization(.none)]
  }
  static let fullFineTune = SetupVariant("full-finetune", chooses: [method, quantization]) { _ in [.fullFineTune(true)]
  }

  /// Every named variant.
  public static let all: [SetupVariant] = {
    var variants = [
      SetupVariant("as-given", chooses: []) { _ in [] }, qlora, lora16bit,
      SetupVariant("lora-int8", chooses: [method, quantization]) { _ in [.fullFineTune(false), .quantization(.int8)] },
      fullFineTune,
      SetupVariant("nf4", chooses: [quantization]) { _ in [.quantization(.nf4)] },
      SetupVariant("fp4", chooses: [quantization]) { _ in [.quantization(.fp4)] },
      SetupVariant("dq", chooses: [Setting.doubleQuantization.label]) { _ in [.doubleQuantization(true)] },
      SetupVariant("no-dq", chooses: [Setting.doubleQuantization.label]) { _ in [.doubleQuantization(false)] },
      SetupVariant("grad-ckpt", chooses: [Setting.gradientCheckpointing.label]) { _ in [.gradientCheckpointing(true)] },
      SetupVariant("no-grad-ckpt", chooses: [Setting.gradientCheckpointing.label]) { _ in
        [.gradientCheckpointing(false)]
      },
    ]
    // Every value of a choice setting is a variant of its own name.
    for setting in [Setting.attention, .optimizer, .recipe, .loss] {
      guard case .choices(let names) = setting.domain else { continue }
      for name in names where !variants.contains(where: { $0.name == name }) {
        if let change = try? setting.parse(name) {
          variants.append(SetupVariant(name, chooses: [setting.label]) { _ in [change] })
        }
      }
    }
    return variants
  }()

  /// The variant named `name`, or several joined with `+`, as one variant.
  public static func named(_ name: String) throws(SettingValueError) -> SetupVariant {
    let parts = name.lowercased().split(separator: "+", omittingEmptySubsequences: false).map(String.init)
    var found: [SetupVariant] = []
    for part in parts {
      guard let variant = all.first(where: { $0.name == part }) else {
        let names = all.map(\.name)
        let hint = Suggestions.closest(to: part, among: names, limit: 1).first.map { " Did you mean '\($0)'?" } ?? ""
        throw SettingValueError(
          setting: nil, value: part, expected: "a setup variant: one of \(names.joined(separator: ", ")).\(hint)")
      }
      for chooses in variant.chooses {
        guard let earlier = found.first(where: { $0.chooses.contains(chooses) }) else { continue }
        throw SettingValueError(
          setting: nil, value: name,
          expected:
            "'\(earlier.name)' and '\(variant.name)' both set the \(chooses): join variants that change different things"
        )
      }
      found.append(variant)
    }
    if found.count == 1 { return found[0] }
    let joined = found
    return SetupVariant(found.map(\.name).joined(separator: "+"), chooses: found.flatMap(\.chooses)) { base in
      var setup = base
      var changes: [SettingChange] = []
      for variant in joined {
        let more = variant.changes(for: setup)
        setup = SettingChange.apply(more, to: setup)
        changes += more
      }
      return changes
    }
  }
}

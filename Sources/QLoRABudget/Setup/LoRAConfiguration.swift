/// Which linear modules get LoRA adapters (peft's `target_modules`).
public enum LoRATargets: Hashable, Sendable {
  /// peft's `all-linear`: every linear layer of the decoder (not lm_head).
  case allLinear
  /// peft's default when no targets are given: `q_proj` and `v_proj` for llama-style models
  /// (`TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`; `qkv_proj` for phi3, `c_attn` for gpt2).
  case peftDefault
  /// Module names matched against the last component of each module path, as peft does.
  case modules([String])

  /// The spelling used on the command line and in JSON.
  public var description: String {
    switch self {
    case .allLinear: return "all-linear"
    case .peftDefault: return "peft-default"
    case .modules(let names): return names.joined(separator: ",")
    }
  }
}

/// The LoRA adapters: rank, scaling, targets, DoRA and dropout.
///
/// `lora_alpha` follows the rank (``defaultAlpha(rank:)``) until it is set: a table or a
/// planner that varies the rank of a setup without an explicit alpha moves alpha with it.
public struct LoRAConfiguration: Hashable, Sendable {
  /// The largest rank accepted (2^16): beyond it no adapter is smaller than the weight it adapts.
  public static let maximumRank: Int64 = 65_536

  /// The alpha of a rank when none is given: 2 x rank, as LLaMA-Factory, Unsloth's notebooks
  /// and most QLoRA guides set it. The one place this rule is written.
  public static func defaultAlpha(rank: Int64) -> Double { 2 * Double(rank) }

  public var rank: Int64
  /// `lora_alpha`; changes no byte, carried so the setup is complete. Reads as
  /// ``defaultAlpha(rank:)`` of the current rank until set.
  public var alpha: Double {
    get { givenAlpha ?? Self.defaultAlpha(rank: rank) }
    set { givenAlpha = newValue }
  }
  /// The alpha set explicitly; nil while alpha follows the rank.
  public var givenAlpha: Double?
  public var targets: LoRATargets
  /// DoRA adds a magnitude vector of `out` elements per adapted module.
  public var usesDoRA: Bool
  /// `lora_dropout` as given; nil: the recipe's default (``TrainingSetup/loraDropout``, which
  /// the estimate reads). Above 0 the branch keeps a dropped-out copy of its input for backward.
  public var givenDropout: Double?
  /// peft's `modules_to_save`: modules (matched by the end of their path, as peft does) wrapped in
  /// `ModulesToSaveWrapper`, which keeps the original frozen and trains a full copy of it.
  public var modulesToSave: [String] = []

  /// `alpha` nil: alpha follows the rank.
  public init(
    rank: Int64 = 16, alpha: Double? = nil, targets: LoRATargets = .allLinear, usesDoRA: Bool = false,
    dropout: Double? = nil
  ) {
    self.rank = rank
    self.givenAlpha = alpha
    self.targets = targets
    self.usesDoRA = usesDoRA
    self.givenDropout = dropout
  }

  /// Equal when every value is: an alpha that follows the rank equals the same alpha given.
  public static func == (a: LoRAConfiguration, b: LoRAConfiguration) -> Bool {
    a.rank == b.rank && a.alpha == b.alpha && a.targets == b.targets && a.usesDoRA == b.usesDoRA
      && a.givenDropout == b.givenDropout
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(rank)
    hasher.combine(alpha)
    hasher.combine(targets)
    hasher.combine(usesDoRA)
    hasher.combine(givenDropout)
  }
}

/// Notes on figures that are large because of one library version's behaviour, with the
/// alternative: shown next to the verdict, where a user acts on it.
enum VersionNotes {
  static func notes(_ model: ModelArchitecture, _ setup: TrainingSetup) -> [String] {
    attentionNotes(model, setup) + expertNotes(model, setup) + routerNotes(model, setup)
      + expertTargetNotes(model, setup) + Gemma3nNotes.notes(model, setup)
  }

  /// What peft's rewrite of the targets (``PeftExpertTargets``) adapts instead of the named
  /// modules: shown because it is most of the trainable parameters and their state.
  private static func expertTargetNotes(_ model: ModelArchitecture, _ setup: TrainingSetup) -> [String] {
    guard let parameters = expertParameters(model, setup) else { return [] }
    let rank = setup.lora.rank
    let elements = model.loraTensors(on: parameters, rank: rank, dtype: .float32).reduce(Int64(0)) {
      saturatingSum($0, $1.elements)
    }
    // `gate_up_proj`, `down_proj`, `gate.weight`: what peft's target_parameters name.
    let names = parameters.map {
      $0.path.split(separator: ".").suffix($0.expertCount > 1 ? 1 : 2).joined(separator: ".")
    }
    return [
      "peft (0.20 and later) on transformers 5 turns these targets on \(model.peftModelType) into LoRA on the fused "
        + "experts and the router (target_parameters \(names.joined(separator: ", ")); gate_up_proj at rank "
        + "\(2 * rank)), and no longer on any dense or shared-expert MLP: \(NumberText.grouped(elements)) of the "
        + "trainable parameters, counted here with their gradients, optimizer state and the merged expert stacks "
        + "each sparse layer holds (docs/models.md). Name the attention projections as targets to train those only."
    ] + failures(model, setup)
  }

  /// What makes peft's `ParamWrapper`, which the rewritten targets use, raise `ValueError` at
  /// `get_peft_model` (peft 0.21.2 `tuners/lora/layer.py` `ParamWrapper.__init__`/`update_layer`):
  /// `lora_dropout` above 0, DoRA. The run as configured does not start: said beside the verdict
  /// and among the warnings.
  static func failures(_ model: ModelArchitecture, _ setup: TrainingSetup) -> [String] {
    guard expertParameters(model, setup) != nil else { return [] }
    var settings: [String] = []
    if setup.loraDropout > 0 { settings.append("lora_dropout \(setup.loraDropout) (set it to 0)") }
    if setup.lora.usesDoRA { settings.append("DoRA (turn it off)") }
    guard !settings.isEmpty else { return [] }
    return [
      "this run does not start: peft's LoRA on fused expert parameters (ParamWrapper) raises ValueError at "
        + "get_peft_model with \(settings.joined(separator: " and ")); the figures are for the run once it does, "
        + "the other adapters keeping the configured settings (docs/models.md)"
    ]
  }

  /// The parameters peft adapts through `ParamWrapper` for this setup, or nil when none.
  private static func expertParameters(_ model: ModelArchitecture, _ setup: TrainingSetup) -> [AdaptedParameter]? {
    guard !setup.isFullFineTune,
      let parameters = try? model.loraTargets(setup.lora.targets, recipe: setup.recipe).parameters,
      !parameters.isEmpty
    else { return nil }
    return parameters
  }

  /// LoRA on an `nn.Linear` subclass whose forward returns a tuple (Llama 4's `Llama4Router`):
  /// peft 0.21.2's `lora.Linear.forward` reads `result.dtype` of the base layer's output and
  /// fails ("'tuple' object has no attribute 'dtype'"; measured with transformers 5.25 and 4.57.1).
  private static func routerNotes(_ model: ModelArchitecture, _ setup: TrainingSetup) -> [String] {
    guard !setup.isFullFineTune,
      let adapted = try? model.adaptedModules(setup.lora.targets, roles: setup.recipe.linearRoles),
      let router = adapted.first(where: { $0.role == .routerLinearSubclass })
    else { return [] }
    return [
      "LoRA on \(router.path) is counted because peft adapts it (an nn.Linear subclass), but its forward returns a "
        + "tuple and peft 0.21.2's LoRA forward fails on it: exclude it (peft's exclude_modules) or name the "
        + "other modules as targets (docs/models.md)."
    ]
  }

  private static func expertNotes(_ model: ModelArchitecture, _ setup: TrainingSetup) -> [String] {
    guard setup.effectiveQuantization.isQuantized else { return [] }
    let elements = BaseWeights.unquantizedLinearElements(model, setup)
    let roles = model.inventory.linears.map(\.role)
    let fusedInFive = roles.contains(.expert) && !setup.recipe.linearRoles.contains(.expert)
    let fusedAlways = roles.contains(.expertParameter)
    guard fusedInFive || fusedAlways, elements > 0 else { return [] }
    let dtype = setup.unquantizedDtypes.embeddings.resolved(setup.computeDtype)
    let bytes = ByteCount.elements(elements, bytesEach: dtype.byteWidth)
    let stay = "\(bytes.formatted(.binary)) of MoE expert weights stay unquantized (\(dtype.rawValue)): "
    if fusedAlways {
      let isGptOss = model.layout.mixtureOfExperts?.isGptOss == true
      let mxfp4 =
        isGptOss
        ? "; transformers refuses a BitsAndBytesConfig for the MXFP4 checkpoints, so a bitsandbytes QLoRA loads a bf16 copy"
        : ""
      return [
        stay
          + "\(isGptOss ? "gpt-oss" : model.modelType)'s experts are fused 3-D parameters in transformers 4 and 5 alike, "
          + "which bitsandbytes does not quantize\(mxfp4) (docs/models.md)."
      ]
    }
    return [
      stay
        + "recipe \(setup.recipe.name) models transformers 5, whose fused 3-D experts bitsandbytes does not quantize "
        + "(bitsandbytes issue #1849). With transformers 4.x the experts are nn.Linear and quantized: the "
        + "hf-peft-tf4 recipe; Unsloth quantizes them too: the unsloth recipe."
    ]
  }

  /// Attention sinks (gpt-oss) have no SDPA path in transformers (`_supports_sdpa = False`).
  private static func attentionNotes(_ model: ModelArchitecture, _ setup: TrainingSetup) -> [String] {
    guard model.layout.hasAttentionSinks, setup.attention(for: model) == .sdpa else { return [] }
    return [
      "\(model.modelType) has no SDPA attention in transformers (attention sinks; _supports_sdpa = False): it runs "
        + "eager attention, with its sequence x sequence scores, unless a flash-attention kernel that takes sinks "
        + "is installed; this estimate assumes SDPA: estimate eager or flash attention instead."
    ]
  }
}

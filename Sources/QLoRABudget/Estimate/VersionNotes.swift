/// Notes on figures that are large because of one library version's behaviour, with the
/// alternative: shown next to the verdict, where a user acts on it.
enum VersionNotes {
  static func notes(_ model: ModelArchitecture, _ setup: TrainingSetup) -> [String] {
    attentionNotes(model, setup) + expertNotes(model, setup) + routerNotes(model, setup)
      + expertTargetNotes(model, setup) + Gemma3nNotes.notes(model, setup)
  }

  /// peft 0.21.2 on transformers 5 rewrites the targets of the MoE families whose experts were
  /// fused between transformers 4 and 5 (`utils/transformers_weight_conversion.py`
  /// `_convert_peft_config_moe`, for the model types of transformers' `_MODEL_TO_CONVERSION_PATTERN`
  /// with a `qwen2_moe` or `mixtral` pattern): `all-linear` and the v4 expert names (`gate_proj`,
  /// `up_proj`, `down_proj`, Mixtral's `w1`/`w2`/`w3`) become `target_parameters` on the fused experts
  /// (`gate_up_proj` at rank 2r) and the router's `gate.weight`, and those names no longer adapt
  /// the dense and shared MLPs. Its `ParamWrapper` refuses `lora_dropout` above 0. Measured on a
  /// DeepSeek-V3-shaped model (get_peft_model, transformers 5.25.0): attention modules plus
  /// `mlp.experts` and `mlp.gate`, 1,458,432 LoRA parameters per sparse layer at r = 16 (E = 16,
  /// hidden 1,024, intermediate 512). Not modelled: the estimate counts the modules peft's
  /// `all-linear` rule names (docs/models.md).
  static let peftRewritesExpertTargets: Set<String> = ["mixtral", "qwen3_moe", "glm4_moe", "deepseek_v3"]

  private static func expertTargetNotes(_ model: ModelArchitecture, _ setup: TrainingSetup) -> [String] {
    guard !setup.isFullFineTune, Self.peftRewritesExpertTargets.contains(model.modelType),
      let moe = model.layout.mixtureOfExperts, !setup.recipe.linearRoles.contains(moe.expertRole)
    else { return [] }
    let expertNames: Set<String> = ["gate_proj", "up_proj", "down_proj", "w1", "w2", "w3", "gate"]
    switch setup.lora.targets {
    case .allLinear: break
    case .modules(let names) where !expertNames.isDisjoint(with: names): break
    default: return []
    }
    return [
      "peft 0.21.2 on transformers 5 turns these targets into LoRA on \(model.modelType)'s fused experts and router "
        + "(target_parameters; gate_up_proj at rank 2r) instead of any dense or shared-expert MLP, and then refuses lora_dropout "
        + "above 0: this estimate counts the modules peft's all-linear rule names, not those expert adapters. Name "
        + "the attention projections to train what is estimated (docs/models.md)."
    ]
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
    guard model.layout.hasAttentionSinks, setup.attention == .sdpa else { return [] }
    return [
      "\(model.modelType) has no SDPA attention in transformers (attention sinks; _supports_sdpa = False): it runs "
        + "eager attention, with its sequence x sequence scores, unless a flash-attention kernel that takes sinks "
        + "is installed; this estimate assumes SDPA: estimate eager or flash attention instead."
    ]
  }
}

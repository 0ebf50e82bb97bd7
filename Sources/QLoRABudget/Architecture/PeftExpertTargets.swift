/// A parameter peft adapts directly (`target_parameters`, peft's `ParamWrapper`) rather than
/// through an `nn.Linear`: a layer's fused 3-D expert stack or its router's 2-D weight.
///
/// `ParamWrapper.update_layer` (peft 0.21.2 `tuners/lora/layer.py`) makes `lora_A` an
/// `nn.Linear(in, r x E)` and `lora_B` an `nn.Linear(r x E, out)` for a stack of `E` experts
/// (`E` = 1 for a 2-D weight), `in` being what the matmul reads (peft swaps transformers'
/// `(E, out, in)` layout unless the experts are `is_transposed`).
package struct AdaptedParameter: Hashable, Sendable {
  /// e.g. `mlp.experts.gate_up_proj`, `mlp.gate.weight`.
  public let path: String
  public let inFeatures: Int64
  public let outFeatures: Int64
  /// `E` of the stack; 1 for a 2-D weight.
  public let expertCount: Int64
  /// The adapter's rank as a multiple of `r`: 2 for `gate_up_proj` (peft's `rank_pattern` and
  /// `alpha_pattern` for a fused pair), else 1.
  public let rankMultiple: Int64
  /// How many such parameters the model has (its sparse layers).
  public let instanceCount: Int64

  /// Elements of one instance of the parameter: what the merged weight `W + scale x B A` holds.
  public var elements: Int64 { saturatingProduct(saturatingProduct(expertCount, inFeatures), outFeatures) }
}

/// What LoRA adapts: `nn.Linear` modules (``LinearModule``) and parameters (``AdaptedParameter``).
package struct LoRATargetSet: Hashable, Sendable {
  public let modules: [LinearModule]
  public let parameters: [AdaptedParameter]
}

/// peft's rewrite of LoRA targets for the MoE families whose experts transformers 5 fused.
///
/// peft >= 0.19 (`utils/transformers_weight_conversion.py` `_convert_peft_config_moe`, PR #3083;
/// string targets such as `all-linear` from 0.20, PR #3232; measured with 0.21.2 and transformers
/// 5.25.0) converts a `LoraConfig` for the model types transformers' `_MODEL_TO_CONVERSION_PATTERN`
/// maps to the `mixtral` or `qwen2_moe` pattern (peft adds `mixtral` itself; `qwen2_moe` is not a
/// key, so Qwen2-MoE is not converted): each transformers 4 name of `_MOE_TARGET_MODULE_MAPPING`
/// among the targets leaves `target_modules` and becomes a `target_parameters` entry:
/// `gate_proj` + `up_proj` (Mixtral: `w1` + `w3`) -> `gate_up_proj` at rank and alpha `2r`,
/// `down_proj` (`w2`) -> `down_proj`, `gate` -> `gate.weight`. Every module of those names stops
/// being adapted (dense and shared-expert MLPs included); one name of a fused pair without the
/// other raises `ValueError`. `all-linear` as a string resolves to the linear modules' names plus
/// all four transformers 4 names (`_resolve_string_target_modules`).
enum PeftExpertTargets {
  /// The model types peft converts, and whether their pattern is Mixtral's (`w1`/`w2`/`w3`).
  /// transformers 5.25.0 `conversion_mapping.py` `_MODEL_TO_CONVERSION_PATTERN`, the keys mapped to
  /// `mixtral` or `qwen2_moe`, plus peft's own `mixtral`.
  static let convertedModelTypes: [String: Bool] = {
    var types = ["mixtral": true, "minimax": true, "minimax_m2": true]
    for type in [
      "Dots3NoteTextModel", "afmoe", "deepseek_v2", "deepseek_v3", "deepseek_v32", "dots1", "ernie4_5_moe",
      "glm4_moe", "glm4_moe_lite", "glm_moe_dsa", "glm4v_moe", "longcat_flash", "solar_open", "mellum", "qwen3_moe",
      "beam", "qwen3_omni_moe", "qwen3_omni_moe_thinker", "qwen3_omni_moe_text", "qwen3_next", "hunyuan_v1_moe",
      "flex_olmo", "olmoe", "sarvam_mla", "exaone_moe", "cohere2_moe",
    ] {
      types[type] = false
    }
    return types
  }()

  /// The transformers 4 names of one pattern.
  struct Names {
    let gate: String
    let up: String
    let down: String
    static let router = "gate"
    var all: Set<String> { [gate, up, down, Self.router] }
  }

  static func names(mixtralPattern: Bool) -> Names {
    mixtralPattern
      ? Names(gate: "w1", up: "w3", down: "w2") : Names(gate: "gate_proj", up: "up_proj", down: "down_proj")
  }
}

extension ModelArchitecture {
  /// What LoRA adapts for `targets` under `recipe`: peft's rewrite (``PeftExpertTargets``) when the
  /// recipe is peft on transformers 5 and the model's experts are fused there; otherwise the
  /// linear modules ``adaptedModules(_:roles:)`` names.
  ///
  /// - Throws: as ``adaptedModules(_:roles:)``, and
  ///   ``SetupError/partialFusedExpertTargets(named:missing:fused:model:)`` for one name of a pair
  ///   peft fuses (peft raises `ValueError`).
  package func loraTargets(_ targets: LoRATargets, recipe: Recipe) throws(SetupError) -> LoRATargetSet {
    let roles = recipe.linearRoles
    guard let handing = recipe.allLinearToPeft, let moe = layout.mixtureOfExperts, moe.sparseLayerCount > 0,
      !roles.contains(moe.expertRole), let mixtral = PeftExpertTargets.convertedModelTypes[peftModelType]
    else { return LoRATargetSet(modules: try adaptedModules(targets, roles: roles), parameters: []) }
    let v4 = PeftExpertTargets.names(mixtralPattern: mixtral)
    let candidates = inventory.linears(in: roles.union(LinearModule.Role.alwaysAdapted))
    let linearNames = Set(ModuleInventory.names(of: candidates))
    let names: Set<String>
    switch targets {
    case .peftDefault:
      // peft's defaults (q_proj, v_proj for mixtral) hold no transformers 4 expert name.
      return LoRATargetSet(modules: try adaptedModules(targets, roles: roles), parameters: [])
    case .allLinear:
      names = handing == .string ? linearNames.union(v4.all) : linearNames
    case .modules(let requested):
      let available = ModuleInventory.names(of: candidates) + [v4.gate, v4.up, v4.down, PeftExpertTargets.Names.router]
      for name in requested where !available.contains(name) {
        throw .unknownTargetModule(name: name, model: self.name, available: available)
      }
      names = Set(requested)
    }
    let pair = [v4.gate, v4.up].filter(names.contains)
    if pair.count == 1 {
      throw .partialFusedExpertTargets(
        named: pair, missing: [v4.gate, v4.up].filter { !names.contains($0) }, fused: "gate_up_proj", model: name)
    }
    let hidden = hiddenSize
    let size = moe.expertIntermediateSize
    let layers = moe.sparseLayerCount
    let experts = moe.routerPath.dropLast(".gate".count) + ".experts"
    var parameters: [AdaptedParameter] = []
    if pair.count == 2 {
      parameters.append(
        AdaptedParameter(
          path: experts + ".gate_up_proj", inFeatures: hidden, outFeatures: 2 * size, expertCount: moe.expertCount,
          rankMultiple: 2, instanceCount: layers))
    }
    if names.contains(v4.down) {
      parameters.append(
        AdaptedParameter(
          path: experts + ".down_proj", inFeatures: size, outFeatures: hidden, expertCount: moe.expertCount,
          rankMultiple: 1, instanceCount: layers))
    }
    if names.contains(PeftExpertTargets.Names.router) {
      parameters.append(
        AdaptedParameter(
          path: moe.routerPath + ".weight", inFeatures: hidden, outFeatures: moe.expertCount, expertCount: 1,
          rankMultiple: 1, instanceCount: layers))
    }
    let modules = candidates.filter { names.contains($0.name) && !v4.all.contains($0.name) }
    guard !modules.isEmpty || !parameters.isEmpty else { throw .noTargetModules(model: name) }
    return LoRATargetSet(modules: modules, parameters: parameters)
  }
}

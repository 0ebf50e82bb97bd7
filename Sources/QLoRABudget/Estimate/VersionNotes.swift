/// Notes on figures that are large because of one library version's behaviour, with the
/// alternative: shown next to the verdict, where a user acts on it.
enum VersionNotes {
  static func notes(_ model: ModelArchitecture, _ setup: TrainingSetup) -> [String] {
    guard setup.effectiveQuantization.isQuantized else { return [] }
    let elements = BaseWeights.unquantizedLinearElements(model, setup)
    let experts = model.inventory.linears.contains { $0.role == .expert && !setup.recipe.linearRoles.contains(.expert) }
    guard experts, elements > 0 else { return [] }
    let dtype = setup.unquantizedDtypes.embeddings.resolved(setup.computeDtype)
    let bytes = ByteCount.elements(elements, bytesEach: dtype.byteWidth)
    return [
      "\(bytes.formatted(.binary)) of MoE expert weights stay unquantized (\(dtype.rawValue)): recipe "
        + "\(setup.recipe.name) models transformers 5, whose fused 3-D experts bitsandbytes does not quantize "
        + "(bitsandbytes issue #1849). With transformers 4.x the experts are nn.Linear and quantized: the "
        + "hf-peft-tf4 recipe; Unsloth quantizes them too: the unsloth recipe."
    ]
  }
}

/// peft's `modules_to_save`: each listed module is wrapped in `ModulesToSaveWrapper`
/// (peft `utils/other.py`), which keeps the original (`requires_grad_(False)`) and adds
/// `copy.deepcopy(original)` as a trainable module. The copy has the original's dtype at wrap
/// time: `get_peft_model` runs after `prepare_model_for_kbit_training`, which has upcast every
/// non-4-bit 16-bit parameter to fp32, so on a quantized base the copy is fp32 (the recipe's
/// embeddings dtype); on a 16-bit base it is the loaded dtype. The optimizer sees the copy as
/// any trainable tensor: a gradient and its state, counted with the adapters' tensors.
///
/// Modules are matched as peft's `_set_trainable` matches them (`key.endswith(name)`). Each
/// match is deep-copied on its own, so on a model with tied embeddings listing both
/// `embed_tokens` and `lm_head` makes two untied copies of the one matrix (only LoraConfig's
/// `ensure_weight_tying=True` ties them back, which is not modelled: an upper bound).
/// Decoder linear layers (quantized) are not modelled as saved modules.
struct SavedModuleCopies {
  /// One copy per listed module, in the list's order.
  let tensors: [TrainableTensorGroup]

  /// The copies `setup.lora.modulesToSave` makes on `model` (none for full fine-tuning, which
  /// trains every weight in place).
  ///
  /// - Throws: ``SetupError/outOfRange(setting:value:allowed:)`` naming a module the model
  ///   does not have (peft raises `ValueError` for a name that matches nothing).
  init(_ model: ModelArchitecture, _ setup: TrainingSetup) throws(SetupError) {
    guard !setup.isFullFineTune, !setup.lora.modulesToSave.isEmpty else {
      tensors = []
      return
    }
    let dtype = setup.unquantizedDtypes.embeddings.resolved(setup.computeDtype)
    let normDtype = setup.unquantizedDtypes.norms.resolved(setup.computeDtype)
    let candidates = Self.candidates(model)
    var groups: [TrainableTensorGroup] = []
    for name in setup.lora.modulesToSave {
      let matches = candidates.filter { $0.path.hasSuffix(name) }
      guard !matches.isEmpty else {
        throw .outOfRange(
          setting: .modulesToSave, value: name,
          allowed: "a module of '\(model.name)' that is not a decoder linear layer: "
            + candidates.map(\.path).joined(separator: ", "))
      }
      for match in matches {
        groups.append(
          TrainableTensorGroup(
            module: match.path, tensor: Self.copySuffix, elementsPerTensor: match.elements,
            tensorCount: match.count, dtype: match.isNorm ? normDtype : dtype))
      }
    }
    tensors = groups
  }

  /// The unquantized modules a name can pick: the token (and position) embedding, lm_head
  /// (tied or not: peft copies the module, whose weight is the embedding's when tied), and the
  /// norms.
  private static func candidates(_ model: ModelArchitecture) -> [(
    path: String, elements: Int64, count: Int64, isNorm: Bool
  )] {
    let inventory = model.inventory
    let isGPT2 = model.layout.attention == .gpt2
    var modules: [(path: String, elements: Int64, count: Int64, isNorm: Bool)] = [
      (isGPT2 ? "wte" : "embed_tokens", inventory.tokenEmbeddingElements, 1, false)
    ]
    if inventory.positionEmbeddingElements > 0 {
      modules.append(("wpe", inventory.positionEmbeddingElements, 1, false))
    }
    let head = inventory.lmHeadElements > 0 ? inventory.lmHeadElements : inventory.tokenEmbeddingElements
    modules.append(("lm_head", head, 1, false))
    modules += inventory.norms.map {
      ($0.path == "final_norm" ? (isGPT2 ? "ln_f" : "norm") : $0.path, $0.elements, $0.instanceCount, true)
    }
    return modules
  }

  /// The copy's parameter under the wrapper, as peft names it for the adapter `default`.
  static let copySuffix = ".modules_to_save.default"

  /// Whether `group` is a saved module's copy. Autocast caches no cast of one: an embedding or
  /// norm copy feeds no autocast op, and the lm_head copy's 16-bit cast is the weight copy the loss
  /// counts for any fp32 lm_head (``LogitsAndLoss``), trained or not.
  static func isCopy(_ group: TrainableTensorGroup) -> Bool { group.pathHasSuffix(copySuffix) }

  /// `lora` with the copies where the model registers them, which is the order the optimizer
  /// steps them in: the embeddings' copies before every layer, the others (norms, lm_head) after.
  func ordered(around lora: [TrainableTensorGroup]) -> [TrainableTensorGroup] {
    let embeddings = tensors.filter(Self.isEmbeddingCopy)
    return embeddings + lora + tensors.filter { !Self.isEmbeddingCopy($0) }
  }

  static func isEmbeddingCopy(_ group: TrainableTensorGroup) -> Bool {
    embeddingCopyPaths.contains { group.pathIs($0) }
  }

  /// The paths of the embeddings' copies (token, GPT-2's token and position embeddings).
  private static let embeddingCopyPaths = ["embed_tokens", "wte", "wpe"].map { $0 + copySuffix }
  private static let headCopyPath = "lm_head" + copySuffix

  /// The gradients of the embeddings' copies: made by the embedding's backward, the last node of
  /// backward, after every layer's moment. Their share of `onGPU`, the gradient bytes a GPU holds
  /// (all of them, or its shard under FSDP/ZeRO).
  static func gradientsAfterTheLayers(_ trainable: [TrainableTensorGroup], onGPU: ByteCount) -> ByteCount {
    let late = ByteCount.sum(trainable.lazy.filter(isEmbeddingCopy).map(\.bytes))
    let all = ByteCount.sum(trainable.lazy.map(\.bytes))
    guard late > .zero, all > .zero else { return .zero }
    return ByteCount(Int64((Double(late.bytes) / Double(all.bytes) * Double(onGPU.bytes)).rounded()))
  }

  var elements: Int64 { tensors.reduce(0) { $0 + $1.elements } }

  /// `embed_tokens 777,912,320 x 4 B (fp32) + lm_head ...`, or nil without copies.
  var formula: String? {
    guard !tensors.isEmpty else { return nil }
    return "full trainable copies (modules_to_save, the originals kept frozen): "
      + tensors.map {
        "\($0.path.dropLast(Self.copySuffix.count)) \(NumberText.grouped($0.elements)) x \($0.dtype.byteWidth) B (\($0.dtype.rawValue))"
      }
      .joined(separator: " + ")
  }

  /// The lm_head copy's fp32 gradient, alive from the cast's backward, after the loss's own fp32
  /// tensors are freed, beside the 16-bit logits gradient: zero without an lm_head copy. (The
  /// 16-bit weight gradient the cast hands it is gone by then: measured, mistral-7b-v0.3
  /// dimensions with only lm_head saved, the backward peak is 1,177 MB, where both at once would
  /// make it 1,430 MB; Fixtures/modules-to-save-steps.)
  static func headGradient(_ trainable: [TrainableTensorGroup]) -> ByteCount {
    trainable.first(where: { $0.pathIs(headCopyPath) })?.bytes ?? .zero
  }
}

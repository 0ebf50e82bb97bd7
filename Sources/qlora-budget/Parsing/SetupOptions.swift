import Foundation
import QLoRABudget

/// The options every estimating command shares (fit, estimate, and the planning commands),
/// and how they become a ``TrainingSetup``. Help text is generated from these specs.
enum SetupOptions {
  static let specs: [OptionSpec] = [
    .value("--quant", "type", "Base weight quantization.", values: BaseQuantization.allCases.map(\.rawValue), default: "nf4"),
    .value("--double-quant", "bool", "Quantize the 4-bit absmax again (bnb_4bit_use_double_quant).", default: "true"),
    .value("--blocksize", "n", "Elements per 4-bit absmax block (32...4096).", default: "64"),
    .value("--rank", "n", "LoRA rank r.", default: "16"),
    .value("--alpha", "n", "lora_alpha (changes no byte).", default: "2 x rank"),
    .value("--targets", "modules", "all-linear, peft-default, or module names joined by commas.", default: "all-linear"),
    .flag("--dora", "Weight-decomposed LoRA (adds a magnitude vector per module)."),
    .value("--lora-dropout", "p", "LoRA dropout; above 0 the branch keeps a dropped-out input copy.", default: "0.05"),
    .value("--optimizer", "name", "Optimizer.", values: Optimizer.allCases.map(\.rawValue), default: "adamw"),
    .value("--dtype", "type", "Compute dtype.", values: ComputeDtype.allCases.map(\.rawValue), default: "bf16"),
    .value("--recipe", "name", "Training framework recipe.", values: Recipe.all.map(\.name), default: "hf-peft"),
    .value("--seq-len", "tokens", "Sequence length.", default: "2048"),
    .value("--batch", "n", "Micro-batch size per GPU.", default: "1"),
    .value("--grad-ckpt", "bool", "Gradient checkpointing.", default: "the recipe's (on)"),
    .value("--attn", "impl", "Attention implementation.", values: AttentionImplementation.allCases.map(\.rawValue), default: "sdpa"),
    .value(
      "--loss", "kind", "Cross-entropy: standard (full fp32 logits), chunked (the recipe's chunked loss), or a named one.",
      values: ["standard", "chunked"] + ChunkedLoss.allCases.map(\.rawValue), default: "the recipe's (standard)"),
    .value("--loop", "style", "What the loop keeps of the output: trainer (HF Trainer) or plain (out = model(...)).",
      values: TrainingLoop.allCases.map(\.rawValue), default: "the recipe's (trainer)"),
    .value("--platform", "kernels", "Kernels the step runs on (cpu: compare with CPU-measured steps).",
      values: KernelPlatform.allCases.map(\.rawValue), default: "cuda"),
    .value("--autocast", "bool", "Mixed-precision autocast (HF Trainer bf16/fp16=True).", default: "true"),
    .value("--gpus", "n", "GPUs the run is sharded over with FSDP (fsdp_qlora); figures are per GPU.", default: "1"),
    .flag("--full-finetune", "Full fine-tuning in the compute dtype with fp32 optimizer state, for comparison."),
  ]

  /// The setup the options describe; every value is checked and named in the error.
  static func setup(from arguments: ParsedArguments) throws(UsageError) -> TrainingSetup {
    var setup = TrainingSetup()
    if let quant = try arguments.choice("--quant", as: BaseQuantization.self) { setup.quantization = quant }
    if let dq = try arguments.boolean("--double-quant") { setup.usesDoubleQuantization = dq }
    if let block = try arguments.integer("--blocksize", in: 32...4096) { setup.blockSize = block }
    let rank = try arguments.integer("--rank", in: 1...LoRAConfiguration.maximumRank) ?? setup.lora.rank
    let alpha = try arguments.number("--alpha", in: 1e-6...1e9)
    let dropout = try arguments.number("--lora-dropout", in: 0...0.999) ?? 0.05
    setup.lora = LoRAConfiguration(
      rank: rank, alpha: alpha, targets: try targets(arguments.value("--targets")),
      usesDoRA: arguments.has("--dora"), dropout: dropout)
    if let optimizer = try arguments.choice("--optimizer", as: Optimizer.self) { setup.optimizer = optimizer }
    if let dtype = try arguments.choice("--dtype", as: ComputeDtype.self) { setup.computeDtype = dtype }
    if let name = arguments.value("--recipe") {
      guard let recipe = Recipe.named(name.lowercased()) else {
        let names = Recipe.all.map(\.name)
        let hint = Suggestions.closest(to: name, among: names, limit: 1).first.map { " Did you mean '\($0)'?" } ?? ""
        throw .invalidValue(name, for: "--recipe", "use one of \(names.joined(separator: ", ")).\(hint)")
      }
      setup.recipe = recipe
    }
    if let tokens = try arguments.integer("--seq-len", in: 1...TrainingSetup.maximumSequenceLength) {
      setup.sequenceLength = tokens
    }
    if let batch = try arguments.integer("--batch", in: 1...TrainingSetup.maximumBatchSize) { setup.batchSize = batch }
    setup.gradientCheckpointing = try arguments.boolean("--grad-ckpt")
    if let attention = try arguments.choice("--attn", as: AttentionImplementation.self) { setup.attention = attention }
    if let autocast = try arguments.boolean("--autocast") { setup.usesAutocast = autocast }
    if let loss = arguments.value("--loss") {
      switch loss.lowercased() {
      case "standard": setup.chunkedCrossEntropy = false
      case "chunked": setup.chunkedCrossEntropy = true
      default:
        guard let named = ChunkedLoss(rawValue: loss.lowercased()) else {
          let names = ["standard", "chunked"] + ChunkedLoss.allCases.map(\.rawValue)
          throw .invalidValue(loss, for: "--loss", "use one of \(names.joined(separator: ", "))")
        }
        setup.chunkedCrossEntropy = true
        setup.chunkedLoss = named
      }
    }
    setup.loop = try arguments.choice("--loop", as: TrainingLoop.self)
    if let platform = try arguments.choice("--platform", as: KernelPlatform.self) { setup.platform = platform }
    setup.gpuCount = try PlanningOptions.gpuCount(arguments)
    setup.isFullFineTune = arguments.has("--full-finetune")
    return setup
  }

  static func targets(_ text: String?) throws(UsageError) -> LoRATargets {
    guard let text else { return .allLinear }
    switch text.lowercased() {
    case "all-linear": return .allLinear
    case "peft-default": return .peftDefault
    default:
      let names = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
      guard !names.contains(where: \.isEmpty) else {
        throw .invalidValue(text, for: "--targets", "module names joined by commas, e.g. 'q_proj,v_proj'")
      }
      return .modules(names)
    }
  }

  /// A GPU preset name or a capacity such as `24GB` / `24GiB`.
  static func gpu(_ text: String, presets: PresetCatalog) throws -> GPU {
    if let first = text.first, first.isNumber {
      do {
        return GPU.custom(capacity: try ByteCount(parsing: text), label: text)
      } catch {
        throw UsageError.invalidValue(text, for: "--gpu", error.description)
      }
    }
    return try presets.gpu(named: text)
  }
}

import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The frameworks' own example QLoRA configs (Fixtures/training-configs, verbatim copies),
/// mapped key by key. Expected values are read off the files by hand (line numbers included)
/// and the frameworks' documented defaults; none come from the reader.
@Suite struct TrainingConfigFixtureTests {
  func config(_ name: String) throws -> TrainingConfig {
    try TrainingConfig(data: try TestData.trainingConfig(name), path: name)
  }

  /// The used keys as "name@line".
  func usedKeys(_ config: TrainingConfig) -> Set<String> {
    Set(config.used.map { "\($0.key.name)@\($0.key.line)" })
  }

  func names(_ keys: [TrainingConfig.Key]) -> Set<String> { Set(keys.map(\.name)) }

  @Test func llamaFactoryOnTheFlyQuantization() throws {
    let config = try config("llama-factory-llama3_lora_sft_otfq.yaml")
    #expect(config.format == .llamaFactory)
    #expect(config.model == "meta-llama/Meta-Llama-3-8B-Instruct")
    #expect(config.modelKey?.line == 2)
    var expected = TrainingSetup()
    expected.recipe = .llamaFactory
    expected.quantization = .nf4  // quantization_bit: 4 (line 3), quantization_type default nf4
    expected.usesDoubleQuantization = true  // model_args.py double_quantization default True
    expected.lora = LoRAConfiguration(rank: 8, alpha: 16, targets: .allLinear, dropout: 0)  // finetuning_args.py defaults; lora_target: all
    expected.sequenceLength = 2048  // cutoff_len (line 15)
    expected.batchSize = 1  // per_device_train_batch_size (line 28)
    expected.computeDtype = .bf16  // bf16: true (line 34)
    #expect(config.setup == expected)
    #expect(
      usedKeys(config).isSuperset(of: [
        "quantization_bit@3", "quantization_method@4", "stage@7", "finetuning_type@9", "lora_target@10",
        "cutoff_len@15", "per_device_train_batch_size@28", "bf16@34",
      ]))
    #expect(
      names(config.ignored).isSuperset(of: [
        "do_train", "dataset", "template", "learning_rate", "num_train_epochs", "gradient_accumulation_steps",
        "per_device_eval_batch_size", "output_dir",
      ]))
    #expect(config.notModelled.isEmpty)
    #expect(names(config.ignored).isDisjoint(with: Set(config.used.map(\.key.name))))
  }

  @Test func axolotlQLoRA() throws {
    let config = try config("axolotl-llama-3-qlora.yml")
    #expect(config.format == .axolotl)
    #expect(config.model == "NousResearch/Meta-Llama-3-8B")
    var expected = TrainingSetup()
    expected.recipe = .axolotl
    expected.quantization = .nf4  // adapter: qlora, load_in_4bit: true
    expected.usesDoubleQuantization = true
    expected.lora = LoRAConfiguration(rank: 32, alpha: 16, targets: .allLinear, dropout: 0.05)  // lines 23-27: lora_r, lora_alpha, lora_dropout, lora_target_linear
    expected.sequenceLength = 4096  // sequence_len (line 19)
    expected.batchSize = 2  // micro_batch_size (line 37)
    expected.optimizer = .pagedAdamw  // paged_adamw_32bit (line 39)
    expected.computeDtype = .bf16  // bf16: auto (line 45)
    expected.gradientCheckpointing = true  // line 49
    expected.attention = .flash  // flash_attention: true (line 55)
    #expect(config.setup == expected)
    #expect(
      usedKeys(config).isSuperset(of: [
        "adapter@16", "sequence_len@19", "sample_packing@20", "lora_r@23", "lora_alpha@24", "lora_dropout@25",
        "lora_target_linear@27", "micro_batch_size@37", "optimizer@39", "bf16@45", "gradient_checkpointing@49",
        "flash_attention@55",
      ]))
    #expect(
      names(config.ignored).isSuperset(of: ["datasets", "num_epochs", "learning_rate", "special_tokens", "strict"]))
    #expect(names(config.emptyKeys).isSuperset(of: ["deepspeed", "fsdp", "fp16", "lora_model_dir"]))
    #expect(!config.shardsOverGPUs)
  }

  @Test func axolotlFSDPAndItsParameterOffload() throws {
    let config = try config("axolotl-llama-3-qlora-fsdp-70b.yaml")
    #expect(config.model == "casperhansen/llama-3-70b-fp16")
    #expect(config.shardsOverGPUs)  // fsdp: [full_shard, auto_wrap] (line 69)
    #expect(usedKeys(config).contains("fsdp@69"))
    #expect(usedKeys(config).contains("fsdp_config.fsdp_offload_params@75"))
    #expect(config.setup.offload == .parameters && config.setup.engine == .fsdp)
    #expect(config.setup.sequenceLength == 512 && config.setup.lora.rank == 8 && config.setup.optimizer == .adamw)
    #expect(names(config.ignored).contains("fsdp_config.fsdp_sharding_strategy"))
  }

  @Test func torchtuneSingleDeviceQLoRA() throws {
    let config = try config("torchtune-llama3_1-8B_qlora_single_device.yaml")
    #expect(config.format == .torchtune)
    #expect(config.model == "llama-3.1-8b")  // torchtune.models.llama3_1.qlora_llama3_1_8b (line 20)
    var expected = TrainingSetup()
    expected.recipe = .torchtune
    expected.quantization = .nf4
    expected.usesDoubleQuantization = true
    // lora_attn_modules ['q_proj', 'v_proj', 'k_proj', 'output_proj'] + apply_lora_to_mlp (lines 21-22)
    expected.lora = LoRAConfiguration(
      rank: 8, alpha: 16,
      targets: .modules(["q_proj", "v_proj", "k_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
      dropout: 0)
    expected.batchSize = 2  // line 54
    expected.optimizer = .adamw  // torch.optim.AdamW (line 58)
    expected.gradientCheckpointing = true  // line 88
    expected.computeDtype = .bf16  // line 85
    #expect(config.setup == expected)
    #expect(
      usedKeys(config).isSuperset(of: [
        "model._component_@20", "model.lora_attn_modules@21", "model.lora_rank@24", "model.lora_alpha@25",
        "batch_size@54", "optimizer._component_@58", "compile@73", "dtype@85", "enable_activation_checkpointing@88",
      ]))
    // max_seq_len: null (line 32): the data decides; said, and the estimate's --seq-len is used.
    #expect(config.notModelled.map(\.key) == [TrainingConfig.Key(name: "tokenizer.max_seq_len", line: 32)])
    #expect(usedKeys(config).contains("loss._component_@67"))  // CEWithChunkedOutputLoss: the recipe's loss
    #expect(!names(config.ignored).contains("model.apply_lora_to_output"))  // read: False, no adapter on lm_head
    #expect(names(config.ignored).isSuperset(of: ["checkpointer", "dataset", "epochs", "optimizer.lr", "profiler"]))
  }

  @Test func llamaFactoryQwen3() throws {
    let config = try config("llama-factory-qwen3_lora_sft_otfq.yaml")
    #expect(config.model == "Qwen/Qwen3-4B-Instruct-2507")
    var expected = TrainingSetup()
    expected.recipe = .llamaFactory
    expected.lora = LoRAConfiguration(rank: 8, alpha: 16, targets: .allLinear, dropout: 0)  // lora_rank: 8 (line 11)
    expected.quantization = .nf4  // quantization_bit: 4 (line 3), method bnb (line 4)
    expected.usesDoubleQuantization = true
    expected.batchSize = 1  // line 32
    #expect(config.setup == expected)
    #expect(
      usedKeys(config).isSuperset(of: [
        "quantization_bit@3", "quantization_method@4", "lora_rank@11", "cutoff_len@17", "bf16@38",
      ]))
    #expect(names(config.ignored).isSuperset(of: ["trust_remote_code", "report_to", "dataloader_num_workers"]))
  }

  /// Axolotl's Qwen3-32B example: a plugin, an optimizer and offloaded checkpointing the
  /// estimator does not model, each said, with what was used instead.
  @Test func axolotlQwen3WithCutCrossEntropy() throws {
    let config = try config("axolotl-qwen3-32b-qlora.yaml")
    #expect(config.model == "Qwen/Qwen3-32B")
    var expected = TrainingSetup()
    expected.recipe = .axolotl
    expected.quantization = .nf4
    expected.usesDoubleQuantization = true
    expected.lora = LoRAConfiguration(
      rank: 16, alpha: 32, targets: .modules(["q_proj", "k_proj", "v_proj", "o_proj", "down_proj", "up_proj"]))
    // No lora_dropout in the file: the recipe's default (0.05) applies.
    expected.sequenceLength = 2048
    expected.batchSize = 1
    expected.attention = .flash
    expected.gradientCheckpointing = true  // offload: estimated with checkpoints on the GPU
    expected.loss = .chunked  // CutCrossEntropyPlugin (line 5)
    #expect(config.setup == expected)
    #expect(
      usedKeys(config).isSuperset(of: [
        "plugins@5", "sequence_len@22", "lora_r@29", "lora_target_modules@31", "flash_attention@63",
      ]))
    let notes = Dictionary(uniqueKeysWithValues: config.notModelled.map { ($0.key.name, $0) })
    #expect(notes["optimizer"]?.key.line == 51 && notes["optimizer"]?.note.contains("nearest used: adamw") == true)
    #expect(notes["gradient_checkpointing"]?.key.line == 58)
    #expect(names(config.ignored).isSuperset(of: ["lora_mlp_kernel", "chat_template", "tf32", "eval_sample_packing"]))
  }

  @Test func trainingArgumentsWithBitsAndBytesAndPeft() throws {
    let json = """
      {
        "model_name_or_path": "Qwen/Qwen3-8B",
        "per_device_train_batch_size": 4,
        "gradient_checkpointing": true,
        "optim": "paged_adamw_8bit",
        "bf16": true,
        "max_length": 1024,
        "learning_rate": 0.0002,
        "quantization_config": {
          "load_in_4bit": true,
          "bnb_4bit_quant_type": "nf4",
          "bnb_4bit_use_double_quant": false,
          "bnb_4bit_compute_dtype": "bfloat16"
        },
        "peft_config": {"r": 64, "lora_alpha": 16, "target_modules": "all-linear", "lora_dropout": 0.1}
      }
      """
    let config = try TrainingConfig(data: Data(json.utf8), path: "sft.json")
    #expect(config.format == .huggingFace)
    #expect(config.model == "Qwen/Qwen3-8B")
    var expected = TrainingSetup()
    expected.recipe = .trl  // max_length is SFTConfig's
    expected.quantization = .nf4
    expected.usesDoubleQuantization = false
    expected.lora = LoRAConfiguration(rank: 64, alpha: 16, targets: .allLinear, dropout: 0.1)
    expected.batchSize = 4
    expected.gradientCheckpointing = true
    expected.optimizer = .pagedAdamw8bit
    expected.sequenceLength = 1024
    #expect(config.setup == expected)
    #expect(
      usedKeys(config).isSuperset(of: ["quantization_config.load_in_4bit@10", "peft_config.r@15", "max_length@7"]))
    #expect(names(config.ignored) == ["learning_rate"])
  }

  @Test func peftAdapterConfigAlone() throws {
    let json = """
      {"peft_type": "LORA", "base_model_name_or_path": "meta-llama/Llama-3.1-8B", "r": 16, "lora_alpha": 32,
       "target_modules": ["q_proj", "v_proj"], "lora_dropout": 0.0, "task_type": "CAUSAL_LM"}
      """
    let config = try TrainingConfig(data: Data(json.utf8), path: "adapter_config.json")
    #expect(config.format == .peftAdapter)
    #expect(config.model == "meta-llama/Llama-3.1-8B")
    #expect(
      config.setup.lora == LoRAConfiguration(rank: 16, alpha: 32, targets: .modules(["q_proj", "v_proj"]), dropout: 0))
    #expect(names(config.ignored) == ["task_type"])
  }

  /// A value of the wrong type or out of range names the file, the line and the key.
  @Test(
    arguments: [
      ("base_model: m\nadapter: qlora\nlora_r: lots\n", 3, "lora_r"),
      ("base_model: m\nadapter: qlora\nmicro_batch_size: 0\n", 3, "micro_batch_size"),
      ("model_name_or_path: m\nquantization_bit: 3\n", 2, "quantization_bit"),
      ("model_name_or_path: m\nfinetuning_type: lora\nflash_attn: turbo\n", 3, "flash_attn"),
      ("base_model: m\nadapter: qlora\ngradient_checkpointing: maybe\n", 3, "gradient_checkpointing"),
      ("model:\n  _component_: torchtune.models.llama3_1.qlora_llama3_1_8b\n  lora_rank: [8]\n", 3, "model.lora_rank"),
      ("model:\n  _component_: torchtune.models.llama3_1.qlora_llama3_1_8b\ndtype: fp32\n", 3, "dtype"),
    ] as [(String, Int, String)])
  func invalidValuesNameFileLineAndKey(_ text: String, _ line: Int, _ key: String) {
    do {
      _ = try TrainingConfig(data: Data(text.utf8), path: "run.yaml")
      Issue.record("accepted: \(text)")
    } catch {
      #expect(error.line == line && error.key == key, "\(error)")
      #expect(error.description.hasPrefix("run.yaml:\(line): '\(key)': "), "\(error)")
      #expect(!error.description.contains("\n"))
    }
  }

  /// A number in quotes is text to YAML: refused, and the message says why (it reads like one).
  @Test func aQuotedNumberIsRefusedWithTheReason() {
    #expect(
      performing: {
        try TrainingConfig(data: Data("base_model: m\nadapter: qlora\nlora_r: '16'\n".utf8), path: "a.yaml")
      },
      throws: {
        ($0 as? TrainingConfigError)?.description
          == "a.yaml:3: 'lora_r': the value '16' is invalid: expected a whole number (it is in quotes, which YAML reads "
          + "as text: write 16 without them)"
      })
  }

  @Test func yamlErrorsAndUnknownFormatsNameTheFile() {
    #expect(
      throws: TrainingConfigError(path: "a.yaml", line: 2, "anchors ('&name') are not supported; write the value out")
    ) {
      try TrainingConfig(data: Data("base_model: m\nadapter: &a qlora\n".utf8), path: "a.yaml")
    }
    #expect(
      performing: { try TrainingConfig(data: Data("learning_rate: 1\n".utf8), path: "b.yaml") },
      throws: { ($0 as? TrainingConfigError)?.description.hasPrefix("b.yaml:1: not a config this tool reads") == true })
  }

  /// `deepspeed: FILE` is read beside the config (LLaMA-Factory's examples/deepspeed/ds_z3_config.json
  /// keys: stage 3, "auto" buckets and batch); a file not found is said, and no ZeRO is used.
  @Test func aDeepSpeedKeyReadsItsFileBesideTheConfig() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qlora-budget-ds-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder.appendingPathComponent("ds"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let zero3 = """
      {"train_batch_size": "auto", "train_micro_batch_size_per_gpu": "auto", "bf16": {"enabled": "auto"},
       "zero_optimization": {"stage": 3, "overlap_comm": false, "reduce_bucket_size": "auto",
         "stage3_prefetch_bucket_size": "auto", "stage3_param_persistence_threshold": "auto"}}
      """
    try Data(zero3.utf8).write(to: folder.appendingPathComponent("ds/z3.json"))
    let text = "model_name_or_path: m\nfinetuning_type: lora\nper_device_train_batch_size: 2\ndeepspeed: ds/z3.json\n"
    let config = try TrainingConfig(data: Data(text.utf8), path: folder.appendingPathComponent("run.yaml").path)
    #expect(config.setup.engine == .zero3 && config.setup.offload == [] && config.setup.batchSize == 2)
    #expect(config.shardsOverGPUs)
    #expect(
      config.used.first { $0.key.name == "deepspeed" }?.effect.hasPrefix("DeepSpeed ZeRO-3, offload none") == true)
    let missing = try TrainingConfig(
      data: Data(text.replacingOccurrences(of: "z3", with: "z9").utf8),
      path: folder.appendingPathComponent("run.yaml").path)
    #expect(missing.notModelled.first?.key == TrainingConfig.Key(name: "deepspeed", line: 4))
    #expect(missing.setup.engine == .fsdp && !missing.shardsOverGPUs)
    try Data("{\"zero_optimization\": {\"stage\": 5}}".utf8).write(to: folder.appendingPathComponent("ds/z3.json"))
    #expect(throws: TrainingConfigError.self) {
      try TrainingConfig(data: Data(text.utf8), path: folder.appendingPathComponent("run.yaml").path)
    }
  }

  /// Engines and recipes the estimator does not model are said, with what was used instead.
  @Test func notModelledSettingsNameTheNearestUsed() throws {
    let text = """
      model_name_or_path: m
      stage: dpo
      finetuning_type: lora
      quantization_bit: 4
      quantization_method: hqq
      optim: adafactor
      deepspeed: examples/deepspeed/ds_z3_config.json
      """
    let config = try TrainingConfig(data: Data(text.utf8), path: "dpo.yaml")
    let notes = Dictionary(uniqueKeysWithValues: config.notModelled.map { ($0.key.name, $0) })
    #expect(notes["stage"]?.note.contains("estimated as sft") == true && notes["stage"]?.key.line == 2)
    #expect(notes["quantization_method"]?.note.contains("nearest used: bitsandbytes") == true)
    #expect(notes["optim"]?.note.contains("nearest used: adamw") == true)
    #expect(notes["deepspeed"]?.key.line == 7)
    #expect(config.setup.optimizer == .adamw && config.setup.quantization == .nf4)
  }
}

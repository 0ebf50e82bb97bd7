extension Recipe {
  /// torchtune's `lora_finetune_single_device` / `lora_finetune_distributed` with a `qlora_*`
  /// model builder: torchao NF4 base weights, everything else in the recipe dtype (bf16),
  /// activation checkpointing per decoder layer, chunked cross-entropy.
  public static let torchtune = Recipe(
    name: "torchtune",
    summary: "torchtune QLoRA: torchao NF4Tensor base (block 64, int8 scalers per 256 with 16-bit factors); model, "
      + "adapters and output built under the bf16 default dtype; checkpointing per layer; cross-entropy over 8 token chunks",
    withQuantizedBase: .allCompute,
    withSixteenBitBase: .allCompute,
    adapters: .compute,
    linearRoles: [.projection],
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: true,
    chunkedLoss: .tokenChunks(TokenChunking(.count(8), float32LogProbabilities: true, keepsLogits: false)),
    loop: .trainer,
    sources: [
      "torchtune bd2a0fc7 recipes/lora_finetune_single_device.py L140 (dtype from the config), L410 "
        + "training.set_default_dtype(self._dtype) while the model and its LoRA layers are built (bf16 adapters), "
        + "L437-438 set_activation_checkpointing(auto_wrap_policy={TransformerSelfAttentionLayer}), "
        + "L475 activation offloading (off by default: enable_activation_offloading False in the configs)",
      "torchtune modules/peft/lora.py L82-86: the base nn.Linear weight becomes to_nf4(linear.weight) when quantize_base; "
        + "L99-100 lora_a / lora_b are nn.Linear in the default dtype; the output projection stays nn.Linear",
      "torchao 36027d82 quantize_/workflows/nf4/nf4_tensor.py L649-779, L806-843, L1077 to_nf4(block_size=64, "
        + "scaler_block_size=256) (TorchAONF4Buffers)",
      "torchtune modules/loss/cross_entropy_loss.py L19-182 LinearCrossEntropyLoss (num_output_chunks 8: each chunk's "
        + "logits .float() then cross_entropy; every chunk's log-softmax stays saved); ce_chunked_output_loss.py L35-49 "
        + "CEWithChunkedOutputLoss, the 2024 configs' loss, same chunks",
      "configs llama2/7B_qlora_single_device.yaml, llama3_1/8B_qlora_single_device.yaml: lora_rank 8, alpha 16, "
        + "dropout 0.0, torch.optim.AdamW fused; optimizer_in_bwd exists only in the full fine-tuning recipes, not for LoRA",
    ],
    fourBitLayout: .torchao, loader: .sequential)

  /// torchtune 0.1 (April 2024: `lora_finetune_single_device` with `qlora_llama2_7b`) on torchao
  /// 0.1, the stack of torchtune's first published QLoRA figures: the model built on the GPU with
  /// its layers deep-copied and every 4-bit weight quantized whole (``CheckpointLoader/torchtune01``),
  /// torchao 0.1's factor storage, and `nn.CrossEntropyLoss` on the full logits.
  public static let torchtune01 = Recipe(
    name: "torchtune-0.1",
    summary: "torchtune 0.1 + torchao 0.1 (2024-04): as torchtune, but model init quantizes each NF4 weight whole "
      + "three times (built, deep-copied per layer, loaded), the factors keep one entry per scaler, and the loss "
      + "is nn.CrossEntropyLoss on the full logits",
    withQuantizedBase: .allCompute,
    withSixteenBitBase: .allCompute,
    adapters: .compute,
    linearRoles: [.projection],
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: false,
    chunkedLoss: nil,
    loop: .trainer,
    sources: [
      "torchtune 0914d5cfb (2024-04-15, torchtune 0.1) recipes/lora_finetune_single_device.py _setup_model: "
        + "config.instantiate under utils.set_default_dtype(self._dtype) and the device; model.load_state_dict of the "
        + "CPU checkpoint; memory_stats_log after init; configs/llama2/7B_qlora_single_device.yaml: rank 8, alpha 16, "
        + "q,k,v,output_proj + MLP, torch.nn.CrossEntropyLoss, enable_activation_checkpointing True",
      "torchtune 0914d5cfb models/llama2/_component_builders.py lora_llama2 (one layer, then "
        + "modules/transformer.py _get_clones: copy.deepcopy per layer); modules/peft/lora.py _create_weight_and_bias "
        + "(to_nf4(linear.weight) for LoRA targets only); utils/_register_nf4_dispatch_ops.py clone and inplace_copy",
      "torchao v0.1 (ff288954, pinned torchao==0.1 by torchtune's pyproject.toml) dtypes/nf4tensor.py: from_tensor, "
        + "double_quantize_scalers (quantization_factor[:, 0], a view), quantize_tensor_nearest on the whole tensor, "
        + "get_original_weight (TorchAO01Quantization)",
    ],
    fourBitLayout: .torchao01, loader: .torchtune01)

  /// LitGPT `litgpt finetune_lora --quantize bnb.nf4|bnb.nf4-dq --precision bf16-true`.
  public static let litgpt = Recipe(
    name: "litgpt",
    summary: "LitGPT QLoRA: Fabric's BitsandbytesPrecision makes every nn.Linear 4-bit (lm_head too, its own); "
      + "bf16-true: base, norms, embeddings and adapters bf16; no activation checkpointing; LitGPT's own model code "
      + "(fused qkv, one LoRA module over it); bitsandbytes 0.41-0.42, whose 4-bit matmuls keep their inputs; "
      + "lm_head and cross-entropy in chunks of 128 tokens with bf16 log-softmax; bnb PagedAdamW",
    withQuantizedBase: .allCompute,
    withSixteenBitBase: .allCompute,
    adapters: .compute,
    linearRoles: [.projection],
    checkpointsByDefault: false,
    usesChunkedCrossEntropy: true,
    chunkedLoss: .tokenChunks(TokenChunking(.size(128), float32LogProbabilities: false, keepsLogits: true)),
    loop: .trainer,
    sources: [
      "litgpt 26857050 litgpt/finetune/lora.py L56-64 defaults lora_r 8, lora_alpha 16, lora_dropout 0.05, LoRA on "
        + "query and value only; L148-149 BitsandbytesPrecision(quantize[4:], dtype) with bf16-true; L219 "
        + "instantiate_bnb_optimizer -> litgpt/utils.py L619-633 bnb.optim.PagedAdamW",
      "lightning_fabric plugins/precision/bitsandbytes.py _convert_layers: every torch.nn.Linear not in ignore_modules "
        + "becomes a bnb 4-bit linear, lm_head's too (litgpt/lora.py L489-495 wraps an nn.Linear)",
      "litgpt/finetune/lora.py L355-358 model(input_ids, lm_head_chunk_size=128) and chunked_cross_entropy; "
        + "litgpt/utils.py L302-331: F.cross_entropy on each bf16 logit chunk, the list of chunks kept",
      "litgpt/finetune/lora.py L301-304: the longest sequence sets model.max_seq_length; batches are padded to their "
        + "longest sample, so a published peak is at the longest batch (the fixed length is the sequence length)",
      "the 2024 code the config hub table measured (4a9b7e62, 00af8b0d): litgpt/model.py CausalSelfAttention (fused "
        + "attn linear, q/k via torch.cat after apply_rope, v.reshape of the permuted qkv, y.reshape(B, T, C) of the "
        + "transposed SDPA output), litgpt/lora.py LoRAQKVLinear.forward (one lora_dropout, zero_pad index_copy), "
        + "GPT.lm_head its own nn.Linear; finetune/lora.py fit: logits rebound after model() returns; pyproject "
        + "bitsandbytes==0.41.0/0.42.0 (MatMul4Bit ctx.tensors = (A, B)); lightning bitsandbytes.py "
        + "_Linear4bit.quantize (weight.to(torch.half))",
    ],
    quantizesOutputHead: true, loader: .sequential,
    modelCode: FrameworkModelCode(
      fusedQueryKeyValue: true, keepsPreviousStepThroughForward: true, ownsOutputHead: true,
      fourBitMatmulKeepsInput: true, quantizesFromHalf: true))

  /// axolotl with `adapter: qlora` (HF Trainer + peft), sample packing and optional Liger / CCE.
  public static let axolotl = Recipe(
    name: "axolotl",
    summary: "axolotl qlora: prepare_model_for_kbit_training, then norms and embeddings cast back to the load dtype "
      + "(bf16); adapters fp32; sample packing fills each row to sequence_len; Liger or Cut Cross Entropy: the chunked loss",
    withQuantizedBase: .allCompute,
    withSixteenBitBase: .allCompute,
    adapters: .float32,
    linearRoles: [.projection],
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: false,
    chunkedLoss: .liger,
    loop: .trainer,
    sources: [
      "axolotl 067b021c src/axolotl/loaders/model.py L988-1023 _prepare_model_for_quantization "
        + "(prepare_model_for_kbit_training for lora/qlora on a 4-bit base), L422-478 _configure_embedding_dtypes: "
        + "with an adapter needs_fa2_dtype, so norms and embedding modules go back to cfg.torch_dtype "
        + "(L1025-1039 _convert_embedding_modules_dtype), except QLoRA under FSDP",
      "src/axolotl/utils/schemas/config.py L688 sample_packing: rows packed to sequence_len, so every row holds "
        + "sequence_len tokens; gradient_checkpointing is set in every example config",
      "src/axolotl/integrations/liger/args.py L54-55 liger_cross_entropy / liger_fused_linear_cross_entropy and the "
        + "cut_cross_entropy plugin: fused chunked loss, opt-in (the chunked loss)",
      "src/axolotl/utils/__init__.py set_pytorch_cuda_alloc_conf: with torch >= 2.2 and PYTORCH_CUDA_ALLOC_CONF "
        + "unset, sets expandable_segments:True,roundup_power2_divisions:16",
    ],
    allocator: AllocatorSettings(expandableSegments: true, roundupPower2Divisions: 16),
    // lora_target_linear: axolotl's find_all_linear_names, the linear modules' leaf names (not read here: assumed).
    allLinearToPeft: .linearNames)

  /// TRL `SFTTrainer` with a peft config on a bitsandbytes 4-bit model.
  public static let trl = Recipe(
    name: "trl",
    summary: "TRL SFTTrainer: no prepare_model_for_kbit_training, the base stays in its load dtype (bf16); trainable "
      + "params cast to bf16 for QLoRA; checkpointing on; chunked_nll loss (256-token chunks, each checkpointed)",
    withQuantizedBase: .allCompute,
    withSixteenBitBase: .allCompute,
    adapters: .compute,
    linearRoles: [.projection],
    checkpointsByDefault: true,
    usesChunkedCrossEntropy: true,
    chunkedLoss: .tokenChunks(
      TokenChunking(.size(256), float32LogProbabilities: true, keepsLogits: false, checkpointsChunks: true)),
    loop: .trainer,
    sources: [
      "trl f2cd5771 trl/trainer/sft_trainer.py L1125-1132: for a quantized model every trainable param is cast to "
        + "bf16 (\"following the QLoRA paper\"); prepare_model_for_kbit_training is not called by SFTTrainer",
      "trl/trainer/sft_config.py L107-116, L334-336: loss_type defaults to chunked_nll (nll with use_liger_kernel); "
        + "sft_trainer.py L86 _CHUNKED_LM_HEAD_CHUNK_SIZE 256, L117-235: each chunk's logits live only inside a "
        + "checkpointed chunk; sft_config.py L135: gradient_checkpointing defaults to True",
      "sft_config.py L225-254 packing (rows of max_length) and padding_free (the batch flattened into one row): the "
        + "same tokens per step, so sequence length x batch is the packed length",
      "peft_config passes LoraConfig(target_modules=\"all-linear\") to peft as it is (docs/models.md)",
    ],
    allLinearToPeft: .string)
}

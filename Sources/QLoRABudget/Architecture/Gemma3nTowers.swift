/// The vision and audio towers of a multimodal Gemma 3n config (`model_type: gemma3n`, what
/// `AutoModelForCausalLM` builds as `Gemma3nForConditionalGeneration`), read from its
/// `vision_config` and `audio_config` (transformers 5.25.0 `modeling_gemma3n.py`,
/// `configuration_gemma3n.py` defaults for absent keys). They load and stay resident; with
/// text-only batches they do not run, so they add no activations.
///
/// - **Audio** (`Gemma3nAudioEncoder`, a USM conformer): two convolutions with their norms and
///   `input_proj_linear` (32 channels x the frequencies left after two stride-2 convolutions ->
///   hidden), then `conf_num_hidden_layers` blocks of two feed-forward modules (hidden -> 4 hidden
///   -> hidden, two norms each), attention (`q_proj`, `k_proj`, `v_proj`, `pos_proj`, `post`, all
///   hidden x hidden; two norms and `per_dim_scale`), a light convolution (`linear_start` hidden
///   -> 2 hidden, a depthwise kernel, a norm, `linear_end`) and a final norm.
/// - **Vision**: a timm model (`TimmWrapperModel`); only `mobilenetv5_300m_enc`, the published
///   checkpoints' and the default, is known: 294,126,912 parameters, all convolutions and norms
///   (no `nn.Linear`), counted on the meta device (timm 1.0.31).
/// - **Embedders** (`Gemma3nMultimodalEmbedder`, one per tower): an embedding of the tower's
///   `vocab_size` x its hidden size, two norms, `embedding_projection` (its hidden -> the text
///   hidden).
///
/// The towers' `nn.Linear`s are quantized by bitsandbytes and adapted by `all-linear` like the text
/// model's; their other parameters are frozen and upcast to fp32 by prepare_model_for_kbit_training,
/// counted with the norms.
struct Gemma3nTowers {
  let linears: [LinearModule]
  let otherParameters: [VectorParameter]
  /// The audio tower's buffers, per block as on the meta device: `inv_timescales` (hidden / 2)
  /// and 7 scalars in fp32, and the local causal mask (`chunk x (chunk + left context - 1 +
  /// right context)`, bool). The vision tower (timm) has none.
  let bufferBytes: ByteCount

  /// timm architectures whose parameter count is known (meta device, timm 1.0.31).
  static let visionParameters: [String: Int64] = ["mobilenetv5_300m_enc": 294_126_912]

  init(config members: [String: JSONValue], textHidden: Int64, model: String) throws(ArchitectureError) {
    var linears: [LinearModule] = []
    var other: [VectorParameter] = []
    func linear(_ path: String, _ input: Int64, _ output: Int64, count: Int64 = 1) {
      linears.append(
        LinearModule(path: path, inFeatures: input, outFeatures: output, instanceCount: count, input: .gemma3nPath))
    }
    func parameters(_ path: String, _ elements: Int64) {
      if let parameter = VectorParameter(path: path, elements: elements, instanceCount: 1) { other.append(parameter) }
    }

    let vision = ConfigReader(members: members["vision_config"]?.objectValue ?? [:], model: model)
    let architecture = try vision.string("architecture") ?? "mobilenetv5_300m_enc"
    guard let visionTower = Self.visionParameters[architecture] else {
      throw .invalidValue(
        key: "vision_config.architecture", value: "'\(architecture)'",
        reason: "only mobilenetv5_300m_enc (the published Gemma 3n vision tower) is modelled", model: model)
    }
    parameters("vision_tower", visionTower)
    let visionHidden = try vision.optionalDimension("hidden_size") ?? 2048
    let visionVocabulary = try vision.optionalDimension("vocab_size") ?? 128
    parameters("embed_vision (embedding, norms)", visionVocabulary * visionHidden + 2 * visionHidden)
    linear("embed_vision.embedding_projection", visionHidden, textHidden)

    let audio = ConfigReader(members: members["audio_config"]?.objectValue ?? [:], model: model)
    let h = try audio.optionalDimension("hidden_size") ?? 1536
    let blocks = try audio.optionalDimension("conf_num_hidden_layers") ?? 12
    let heads = try audio.optionalDimension("conf_num_attention_heads") ?? 8
    let kernel = try audio.optionalDimension("conf_conv_kernel_size") ?? 5
    let features = try audio.optionalDimension("input_feat_size") ?? 128
    let audioVocabulary = try audio.optionalDimension("vocab_size") ?? 128
    guard h % heads == 0 else {
      throw .invalidValue(
        key: "audio_config.conf_num_attention_heads", value: String(heads),
        reason: "must divide audio_config.hidden_size (\(h))", model: model)
    }
    try Self.requireDefaultSubsampling(audio, model: model)
    // Two 3x3 convolutions (1 -> 128 -> 32 channels), stride 2 with one padding column on each
    // side in frequency: 128 -> 64 -> 32 (Gemma3nAudioSubSampleConvProjection).
    let frequencies = ((features + 2 - 3) / 2 + 1 + 2 - 3) / 2 + 1
    parameters("audio_tower.subsample_conv_projection (convolutions, norms)", 128 * 9 + 128 + 32 * 128 * 9 + 32)
    linear("audio_tower.subsample_conv_projection.input_proj_linear", 32 * frequencies, h)
    for block in ["ffw_layer_start", "ffw_layer_end"] {
      linear("audio_tower.conformer.\(block).ffw_layer_1", h, 4 * h, count: blocks)
      linear("audio_tower.conformer.\(block).ffw_layer_2", 4 * h, h, count: blocks)
    }
    for projection in ["q_proj", "k_proj", "v_proj", "relative_position_embedding.pos_proj"] {
      linear("audio_tower.conformer.attention.attn.\(projection)", h, h, count: blocks)
    }
    linear("audio_tower.conformer.attention.post", h, h, count: blocks)
    linear("audio_tower.conformer.lconv1d.linear_start", h, 2 * h, count: blocks)
    linear("audio_tower.conformer.lconv1d.linear_end", h, h, count: blocks)
    // Per block: 4 feed-forward norms, 2 attention norms and per_dim_scale (head width), the
    // light convolution's 2 norms and depthwise kernel, the final norm.
    parameters("audio_tower.conformer (norms, depthwise kernels)", blocks * (9 * h + h / heads + h * kernel))
    parameters("embed_audio (embedding, norms)", audioVocabulary * h + 2 * h)
    linear("embed_audio.embedding_projection", h, textHidden)
    let chunk = try audio.optionalDimension("conf_attention_chunk_size") ?? 12
    let left = try audio.optionalDimension("conf_attention_context_left") ?? 13
    let right = try audio.optionalCount("conf_attention_context_right") ?? 0
    bufferBytes =
      blocks * (.elements(h / 2 + 7, bytesEach: 4) + .elements(chunk * (chunk + left - 1 + right), bytesEach: 1))
    self.linears = linears
    self.otherParameters = other
  }

  /// The subsampling convolutions are counted for `Gemma3nAudioConfig`'s own channels, kernels
  /// and strides; other values are refused rather than counted wrongly.
  private static func requireDefaultSubsampling(_ audio: ConfigReader, model: String) throws(ArchitectureError) {
    let defaults: [String: JSONValue] = [
      "sscp_conv_channel_size": .array([.number(128), .number(32)]),
      "sscp_conv_kernel_size": .array([.array([.number(3), .number(3)]), .array([.number(3), .number(3)])]),
      "sscp_conv_stride_size": .array([.array([.number(2), .number(2)]), .array([.number(2), .number(2)])]),
    ]
    for (key, value) in defaults.sorted(by: { $0.key < $1.key }) {
      if let given = audio.members[key], given != .null, given != value {
        throw .invalidValue(
          key: "audio_config.\(key)", value: ConfigReader.render(given),
          reason: "only Gemma3nAudioConfig's default subsampling is modelled", model: model)
      }
    }
  }
}

import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// A checkpoint's `llm_int8_skip_modules` in the loading schedule: transformers never swaps the
/// skipped `nn.Linear`s for `Linear4bit`, so their 16-bit checkpoint tensor is loaded as the
/// parameter (no quantized buffers made from it), and prepare_model_for_kbit_training upcasts it
/// to fp32 with the other 16-bit parameters. The model is CheckpointQuantizationTests'
/// `skippedModulesStayUnquantized` Llama (hidden 64, 2 layers, k/v 64 x 64, MLP 128, vocab 100,
/// untied lm_head, bf16 checkpoint, NF4): skipped are o_proj in both layers and layer 1's MLP.
@Suite struct SkippedModulesLoadingTests {
  static func schedule() throws -> (AllocationSchedule, MemoryEstimate) {
    let config: [String: Any] = [
      "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
      "intermediate_size": 128, "vocab_size": 100,
      "quantization_config": [
        "quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": true,
        "llm_int8_skip_modules": ["lm_head", "model.layers.1.mlp", "self_attn.o_proj"],
      ],
    ]
    let model = try TestData.model(config)
    let setup = TrainingSetup.configured(by: nil, model: model)
    let gpu = GPU.custom(capacity: .gibibytes(80), label: "80GiB")
    return (
      try MemoryEstimator.schedule(model: model, setup: setup, gpu: gpu, loader: .sequential),
      try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
    )
  }

  /// The loading phase's allocations, in order.
  static func loading(_ schedule: AllocationSchedule) -> [(bytes: Int64, tensor: ScheduledTensor)] {
    var loading: [(bytes: Int64, tensor: ScheduledTensor)] = []
    var inLoading = false
    for event in schedule.events {
      switch event {
      case .phase(let phase): inLoading = phase == .loading
      case .allocate(_, let bytes, let tensor) where inLoading: loading.append((bytes, tensor))
      default: break
      }
    }
    return loading
  }

  /// The detailed schedule: a bf16 staging copy for each quantized instance only (q, k, v in
  /// both layers, 64 x 64 x 2 B; gate, up, down in layer 0, 64 x 128 x 2 B), the skipped
  /// instances staged as parameters beside the embedding and lm_head (100 x 64 x 2 B each), and
  /// prepare's fp32 casts in parameter order: embed_tokens, layer 0's o_proj, layer 1's down,
  /// gate, up and o_proj (key order within a layer), lm_head last.
  @Test func skippedInstancesAreStagedAsParameters() throws {
    let (schedule, _) = try Self.schedule()
    let loading = Self.loading(schedule)
    let q: Int64 = 64 * 64 * 2
    let mlp: Int64 = 64 * 128 * 2
    let table: Int64 = 100 * 64 * 2
    let staging: [Int64] = loading.filter { $0.tensor == .stagingCopy }.map(\.bytes)
    let expectedStaging: [Int64] = [q, q, q, q, q, q, mlp, mlp, mlp]
    #expect(staging.sorted() == expectedStaging)
    let originals: [Int64] = loading.filter { $0.tensor == .originalWeight }.map(\.bytes)
    let expectedOriginals: [Int64] = [q, q, table, table, mlp, mlp, mlp]
    #expect(originals.sorted() == expectedOriginals)
    // The fp32 casts (twice the bf16 bytes); the summarised small tensors are below q.
    let casts: [Int64] = loading.filter { $0.tensor == .unquantizedWeight && $0.bytes >= q }.map(\.bytes)
    let expectedCasts: [Int64] = [2 * table, 2 * q, 2 * mlp, 2 * mlp, 2 * mlp, 2 * q, 2 * table]
    #expect(casts == expectedCasts)
  }

  /// What stays allocated once loading is done is the resident weights and adapters exactly.
  @Test func loadingEndsAtTheResidentComponents() throws {
    let (schedule, estimate) = try Self.schedule()
    var live: [Int32: Int64] = [:]
    scan: for event in schedule.events {
      switch event {
      case .phase(let phase) where phase != .loading: break scan
      case .allocate(let id, let bytes, _): live[id] = bytes
      case .free(let id): live[id] = nil
      case .phase: break
      }
    }
    let resident = [MemoryComponent.Kind.quantizedWeights, .unquantizedWeights, .adapters].map {
      estimate.bytes(of: $0)
    }
    #expect(ByteCount(live.values.reduce(0, +)) == ByteCount.sum(resident))
  }
}

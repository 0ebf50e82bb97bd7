/// How the `gpuCount` GPUs of a run share the model: PyTorch FSDP or DeepSpeed ZeRO.
///
/// | engine | frozen weights and adapters | gradients | optimizer state | extra on each GPU |
/// | --- | --- | --- | --- | --- |
/// | `fsdp` (FULL_SHARD) | / N (bitsandbytes' 4-bit statistics whole) | / N | / N | two layers' parameters + one layer's gradients |
/// | `fsdp-hybrid` (HYBRID_SHARD) | / (N / nodes) | / (N / nodes) | / (N / nodes) | as `fsdp` |
/// | `zero1` | whole | whole | / N (+ fp32 master / N) | |
/// | `zero2` | whole | / N | / N (+ fp32 master / N) | one gradient reduce bucket |
/// | `zero3` | / N (tensors under the persistence threshold and 4-bit statistics whole) | / N | / N (+ fp32 master / N) | the live and prefetched parameters, one reduce bucket |
///
/// DeepSpeed with bf16/fp16 enabled casts the whole module to that dtype
/// (`engine.py _configure_distributed_model`: `self.module.bfloat16()`), so under ZeRO the
/// adapters and every unquantized tensor are 16-bit and the optimizer keeps an fp32 master
/// partition of the trainable parameters (`stage_1_and_2.py single_partition_of_fp32_groups`).
/// Sources: PyTorch `torch/distributed/fsdp/api.py` (ShardingStrategy, CPUOffload); DeepSpeed
/// `runtime/zero/config.py`, `runtime/engine.py`, `runtime/zero/stage_1_and_2.py`,
/// `runtime/zero/partitioned_param_coordinator.py`, `runtime/zero/parameter_offload.py`
/// (docs/estimation.md, "Several GPUs").
public enum ParallelEngine: String, CaseIterable, Hashable, Sendable, Codable {
  case fsdp
  case fsdpHybrid = "fsdp-hybrid"
  case zero1
  case zero2
  case zero3

  public var isDeepSpeed: Bool { self == .zero1 || self == .zero2 || self == .zero3 }

  /// Whether the frozen weights and adapters are sharded (FSDP, ZeRO-3).
  public var shardsParameters: Bool { self == .fsdp || self == .fsdpHybrid || self == .zero3 }

  /// Whether the gradients are sharded (everything but ZeRO-1).
  public var shardsGradients: Bool { self != .zero1 }

  /// How the engine is named in text: `FSDP FULL_SHARD`, `DeepSpeed ZeRO-3`.
  public var label: String {
    switch self {
    case .fsdp: return "FSDP FULL_SHARD"
    case .fsdpHybrid: return "FSDP HYBRID_SHARD"
    case .zero1: return "DeepSpeed ZeRO-1"
    case .zero2: return "DeepSpeed ZeRO-2"
    case .zero3: return "DeepSpeed ZeRO-3"
    }
  }
}

/// What the engine keeps in host (CPU) memory instead of on the GPU.
///
/// - `optimizer`: DeepSpeed `offload_optimizer: {device: cpu}` (ZeRO-Offload): the optimizer
///   state, the fp32 master weights and fp32 gradients of this rank's partition live in
///   pinned host memory and DeepSpeedCPUAdam steps there.
/// - `parameters`: DeepSpeed `offload_param: {device: cpu}` (ZeRO-3 only), or FSDP
///   `CPUOffload(offload_params=True)`, which "offloads gradients to CPU as well, meaning that
///   the optimizer step runs on CPU": with FSDP it therefore moves parameters, gradients and
///   optimizer state.
public struct EngineOffload: OptionSet, Hashable, Sendable {
  public let rawValue: Int
  public init(rawValue: Int) { self.rawValue = rawValue }

  public static let optimizer = EngineOffload(rawValue: 1)
  public static let parameters = EngineOffload(rawValue: 2)

  /// `none`, `optimizer`, `params` or `optimizer,params`, as the command line spells it.
  public var description: String {
    var names: [String] = []
    if contains(.optimizer) { names.append("optimizer") }
    if contains(.parameters) { names.append("params") }
    return names.isEmpty ? "none" : names.joined(separator: ",")
  }
}

/// The DeepSpeed `zero_optimization` keys that size the buffers on each GPU, in elements, with
/// DeepSpeed's defaults (`runtime/zero/config.py` L109 `reduce_bucket_size` 5e8, L208
/// `stage3_prefetch_bucket_size` 5e7, L214 `stage3_param_persistence_threshold` 1e5, L231
/// `stage3_max_live_parameters` 1e9, at DeepSpeed 38327e07). nil is HF Trainer's `"auto"`, which
/// transformers fills from the model's hidden size `h` (`integrations/deepspeed.py`
/// `HfTrainerDeepSpeedConfig.trainer_config_finalize`): `reduce_bucket_size` h^2,
/// `stage3_prefetch_bucket_size` int(0.9 h^2), `stage3_param_persistence_threshold` 10 h.
public struct DeepSpeedBuckets: Hashable, Sendable {
  /// `reduce_bucket_size`: gradient elements reduced at a time (ZeRO-2 and ZeRO-3).
  public var reduceBucketSize: Int64? = 500_000_000
  /// `stage3_prefetch_bucket_size`: parameter elements fetched ahead of use.
  public var prefetchBucketSize: Int64? = 50_000_000
  /// `stage3_max_live_parameters`: parameter elements gathered on a GPU at once, at most
  /// (transformers has no "auto" for it).
  public var maxLiveParameters: Int64 = 1_000_000_000
  /// `stage3_param_persistence_threshold`: tensors of at most this many elements are not
  /// partitioned (each GPU keeps them whole).
  public var persistenceThreshold: Int64? = 100_000

  public init() {}

  /// The values for a model of hidden size `hiddenSize` (at most 2^26, so h^2 fits), "auto" filled.
  public func resolved(hiddenSize h: Int64) -> (reduce: Int64, prefetch: Int64, maxLive: Int64, persistence: Int64) {
    (reduceBucketSize ?? h * h, prefetchBucketSize ?? 9 * h * h / 10, maxLiveParameters, persistenceThreshold ?? 10 * h)
  }
}

/// Host (CPU) memory a QLoRA run needs, at load time and in steady state.
///
/// - **Paged optimizer state** (``MemoryEstimate/hostBytes``): bitsandbytes' paged moments live
///   in cudaMallocManaged memory that the driver can evict to the host, so the host must be
///   able to hold all of it.
/// - **Load-time peak**: transformers reads the checkpoint one safetensors shard at a time and
///   materialises each tensor in 16-bit on the CPU before bitsandbytes quantizes it on the GPU,
///   so the host holds up to one shard in 16-bit: `min(shard size, 16-bit model)`. The shard
///   size is what `save_pretrained(max_shard_size=...)` wrote: 5 GB by default in recent
///   transformers (older checkpoints use 10 GB or 2 GB shards); give the real one when known.
/// - **CPU-offloaded state**: optimizer state or parameters the engine moved to the CPU
///   (DeepSpeed ZeRO-Offload, FSDP CPU offload; the estimate's `offloaded_to_host` row), plus
///   any given.
/// - **Offloaded activations** (the host `activations` component): Unsloth's checkpointing
///   keeps the layer inputs in pinned host memory during each step.
/// - **Process baseline**: the resident memory of the Python process with torch, CUDA,
///   transformers and bitsandbytes loaded. An assumption, not a measurement of this project:
///   ``defaultBaseline`` unless given.
///
/// Each GPU process needs `baseline + offloaded + max(load-time shard, paged state + offloaded
/// activations)`: loading ends before the optimizer allocates its state and the first step runs.
/// A machine runs one process per GPU it holds (`gpuCount / nodeCount`), each with its own
/// baseline, shard, paged state and offloaded partition, so its RAM must hold that many.
public struct HostMemory: Hashable, Sendable {
  /// `save_pretrained`'s default `max_shard_size` in transformers 4.x and 5 ("5GB").
  public static let defaultShardSize = ByteCount.gigabytes(5)
  /// The assumed baseline of a training process (Python, torch with CUDA initialised,
  /// transformers, bitsandbytes): 3 GiB. Order of magnitude only; set it when measured.
  public static let defaultBaseline = ByteCount.gibibytes(3)

  public let pagedOptimizerState: ByteCount
  public let offloadedActivations: ByteCount
  public let loadTimeShard: ByteCount
  public let offloaded: ByteCount
  public let baseline: ByteCount
  /// The training processes on each machine: one per GPU it holds.
  public let processesPerMachine: Int64

  /// Host memory while the model loads: the baseline, offloaded state, and one shard in 16-bit.
  public var atLoad: ByteCount { baseline + offloaded + loadTimeShard }
  /// Host memory while training: the baseline, offloaded state, the paged optimizer state and
  /// offloaded activations.
  public var whileTraining: ByteCount { baseline + offloaded + pagedOptimizerState + offloadedActivations }
  /// The most one GPU process holds at any time.
  public var peak: ByteCount { max(atLoad, whileTraining) }
  /// The most one machine holds: every process on it at its peak (they load and train together).
  public var perMachine: ByteCount { processesPerMachine * peak }

  /// The host side of `estimate`.
  public init(
    _ estimate: MemoryEstimate, shardSize: ByteCount = defaultShardSize, offloaded: ByteCount = .zero,
    baseline: ByteCount = defaultBaseline
  ) {
    pagedOptimizerState = estimate.bytes(of: .optimizerState, on: .host)
    offloadedActivations = estimate.bytes(of: .activations, on: .host)
    let sixteenBit = ByteCount.elements(
      estimate.model.parameterCount, bytesEach: estimate.setup.computeDtype.tensorDtype.byteWidth)
    loadTimeShard = min(shardSize, sixteenBit)
    self.offloaded = offloaded + estimate.bytes(of: .offloadedToHost, on: .host)
    self.baseline = baseline
    processesPerMachine = estimate.setup.gpuCount / max(1, estimate.setup.nodeCount)
  }

  /// Whether a machine with `capacity` of RAM holds its share of the run: every GPU process on it.
  public func fits(in capacity: ByteCount) -> Bool { perMachine <= capacity }
}

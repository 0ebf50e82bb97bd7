/// One line of the breakdown: what it is, where it lives, how many bytes, and why.
public struct MemoryComponent: Hashable, Sendable {
  /// The components of a training step, in display order. The raw values are the JSON ids.
  public enum Kind: String, CaseIterable, Hashable, Sendable {
    case quantizedWeights = "quantized_weights"
    case unquantizedWeights = "unquantized_weights"
    case adapters
    case gradients
    case optimizerState = "optimizer_state"
    case activations
    case logits
    case dequantBuffers = "dequant_buffers"
    /// cuBLAS workspaces: allocated by the caching allocator, counted in peak allocated.
    case cublasWorkspaces = "cublas_workspaces"
    case runtime
    case allocatorReserve = "allocator_reserve"
    /// The engine's gathered layer parameters and unsharded gradients: FSDP's all-gather of
    /// two layers, ZeRO-3's live and prefetched parameters, ZeRO's gradient reduce bucket.
    case shardingBuffers = "fsdp_gather"
    /// What the engine keeps in host memory instead (ZeRO-Offload, FSDP CPU offload).
    case offloadedToHost = "offloaded_to_host"

    /// A short label for tables.
    public var label: String {
      switch self {
      case .quantizedWeights: return "Quantized weights"
      case .unquantizedWeights: return "Unquantized weights"
      case .adapters: return "LoRA adapters"
      case .gradients: return "Gradients"
      case .optimizerState: return "Optimizer state"
      case .activations: return "Activations"
      case .logits: return "Logits and loss"
      case .dequantBuffers: return "Dequantization buffers"
      case .cublasWorkspaces: return "cuBLAS workspaces"
      case .runtime: return "CUDA runtime"
      case .allocatorReserve: return "Allocator reserve"
      case .shardingBuffers: return "Gather/reduce buffers"
      case .offloadedToHost: return "Offloaded by the engine"
      }
    }
  }

  /// Where the bytes live: GPU memory, or host memory (offloaded or paged state).
  public enum Device: String, Hashable, Sendable { case gpu, host }

  /// Whether the bytes stay allocated for the whole run or only for part of a step.
  public enum Lifetime: String, Hashable, Sendable { case resident, transient }

  public let kind: Kind
  public let device: Device
  public let lifetime: Lifetime
  public let bytes: ByteCount
  /// Whether it stays on the GPU for the whole run (the resident bytes a step adds to).
  public var isResidentOnGPU: Bool { device == .gpu && lifetime == .resident }
  private let formulaText: Deferred<String>
  private let sourceText: Deferred<String>

  /// The formula with its inputs, e.g. `64,225,280 params x 4 B (fp32)`.
  public var formula: String { formulaText.value }
  /// Where the formula comes from.
  public var source: String { sourceText.value }

  /// A component; `formula` and `source` are built only when read (planners make millions of
  /// estimates and read no formula).
  public init(
    _ kind: Kind, device: Device = .gpu, lifetime: Lifetime, bytes: ByteCount,
    formula: @autoclosure @escaping @Sendable () -> String, source: @autoclosure @escaping @Sendable () -> String
  ) {
    self.kind = kind
    self.device = device
    self.lifetime = lifetime
    self.bytes = bytes
    self.formulaText = Deferred(formula)
    self.sourceText = Deferred(source)
  }
}

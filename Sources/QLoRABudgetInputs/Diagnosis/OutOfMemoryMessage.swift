import QLoRABudget

/// One out-of-memory report as PyTorch's caching allocator printed it, every figure in bytes
/// exactly as stated (``PrintedSize``); nil where the message does not state a figure (older
/// formats say less, a pasted message may be cut short).
public struct OutOfMemoryMessage: Hashable, Sendable {
  /// The runtime that printed it: `CUDA` or `HIP` (ROCm).
  public enum Backend: String, Hashable, Sendable {
    case cuda = "CUDA"
    case hip = "HIP"
  }

  /// The allocator setting the message recommends against fragmentation.
  public enum Suggestion: String, Hashable, Sendable {
    /// `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` (PyTorch 2.1 and later; HIP too).
    case expandableSegments = "expandable_segments"
    /// `max_split_size_mb` (PyTorch 1.10 to 2.0).
    case maxSplitSizeMB = "max_split_size_mb"
  }

  /// Another process on the GPU, as `Process N has X memory in use` states it.
  public struct OtherProcess: Hashable, Sendable {
    public let pid: Int64
    public let bytes: Int64

    public init(pid: Int64, bytes: Int64) {
      self.pid = pid
      self.bytes = bytes
    }
  }

  public var backend: Backend
  /// The rank of a distributed run, from a `[rank3]:` or `[RANK:3]` line prefix.
  public var rank: Int64?
  public var triedToAllocate: Int64?
  /// `GPU N`; nil when the message leaves the index out.
  public var gpuIndex: Int64?
  public var totalCapacity: Int64?
  public var free: Int64?
  /// `is allocated by PyTorch` (current format) or `already allocated` (older ones); includes
  /// what is allocated in private pools.
  public var allocatedByPyTorch: Int64?
  /// `reserved in total by PyTorch` (the format before PyTorch 2.1).
  public var reservedByPyTorch: Int64?
  /// `is reserved by PyTorch but unallocated` (current format), `cached` (PyTorch 1.0 to 1.3):
  /// the caching allocator's free blocks, where fragmentation shows.
  public var reservedUnallocated: Int64?
  /// `with X allocated in private pools (e.g., CUDA Graphs)`.
  public var allocatedInPrivatePools: Int64?
  /// `X allowed;`: the cap `torch.cuda.set_per_process_memory_fraction` set.
  public var allowed: Int64?
  /// `(Including non-PyTorch memory, t|T)his process has X memory in use`.
  public var processInUse: Int64?
  public var otherProcesses: [OtherProcess] = []
  public var suggests: Suggestion?
  /// The names of figures whose printed value exceeded `Int64.max` bytes (saturated).
  public var saturated: [String] = []

  public init(backend: Backend) {
    self.backend = backend
  }

  /// What other processes hold on the GPU, summed (saturating).
  public var otherProcessesBytes: Int64 {
    otherProcesses.reduce(0) { sum, process in
      let (total, overflow) = sum.addingReportingOverflow(process.bytes)
      return overflow ? Int64.max : total
    }
  }
}

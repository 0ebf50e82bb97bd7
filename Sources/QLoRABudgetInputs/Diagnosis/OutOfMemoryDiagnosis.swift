import QLoRABudget

/// A failed run's out-of-memory message held against the estimate of the same run: what the GPU
/// had, what the estimate says each phase of the step needs, and whether fragmentation or
/// allocated bytes made the difference.
public struct OutOfMemoryDiagnosis: Sendable {
  public let message: OutOfMemoryMessage
  /// The run estimated on the GPU as the message describes it: its total capacity less what
  /// other processes held (``available``).
  public let estimate: MemoryEstimate
  /// The device judged: the given preset (or a bare device) with ``available`` as its capacity.
  public let gpu: GPU
  public let capacity: ByteCount
  /// What other processes held on the GPU, as the message lists them (saturated readings left
  /// out, at most the capacity).
  public let otherProcesses: ByteCount
  /// The listed process that is the failed run itself, when the message has no "this process"
  /// clause: PyTorch names its own process `Process N` when it cannot match its pid (in a
  /// container), so the smallest process holding at least what PyTorch reserved is taken to
  /// be the run, not another process.
  public let ownProcess: OutOfMemoryMessage.OtherProcess?

  static func ownProcess(in message: OutOfMemoryMessage) -> OutOfMemoryMessage.OtherProcess? {
    guard message.processInUse == nil, let allocated = message.allocatedByPyTorch else { return nil }
    let (reserved, overflow) = allocated.addingReportingOverflow(message.reservedUnallocated ?? 0)
    guard !overflow else { return nil }
    return message.otherProcesses.filter { $0.bytes >= reserved && $0.bytes < Int64.max }.min { $0.bytes < $1.bytes }
  }

  /// The capacity less the other processes: what this run could have used.
  public let available: ByteCount

  /// The estimated process memory at each phase's highest moment: the process peak less how
  /// far the phase's step bytes stay below the peak phase's (the same workspaces, allocator
  /// reserve and CUDA runtime as at the peak, so the peak phase shows the process peak itself).
  public var phases: [(phase: StepPhase, processBytes: ByteCount)] {
    let top = estimate.step.peak.bytes
    return estimate.step.phases.map { ($0.name, estimate.peak.process - (top - $0.bytes)) }
  }

  /// How much the failed request exceeded the free memory (nil when the message does not say).
  public var shortfall: ByteCount? {
    guard let tried = message.triedToAllocate, let free = message.free else { return nil }
    return ByteCount(tried) - ByteCount(free)
  }

  /// Whether fragmentation is the difference: the request did not fit in the free memory but
  /// would have fit in what PyTorch held reserved and unallocated, had that been one block.
  /// Then expandable segments (``allocatorSetting``) let the allocator grow a segment instead.
  public var fragmentationIsTheDifference: Bool {
    guard let tried = message.triedToAllocate, let free = message.free, let unallocated = message.reservedUnallocated
    else { return false }
    let (room, overflow) = free.addingReportingOverflow(unallocated)
    return tried > free && (overflow || tried <= room)
  }

  /// The allocator setting that addresses fragmentation, for the message's backend.
  public var allocatorSetting: String {
    (message.backend == .hip ? "PYTORCH_HIP_ALLOC_CONF" : "PYTORCH_CUDA_ALLOC_CONF") + "=expandable_segments:True"
  }

  /// Diagnoses `message` for `model` trained with `setup` on `gpu` (a preset, for its
  /// architecture and bf16 support; nil: a device known by the message's capacity only). The
  /// message must state the total capacity.
  public init(
    message: OutOfMemoryMessage, model: ModelArchitecture, setup: TrainingSetup, gpu: GPU?
  ) throws(DiagnosisDetailError) {
    guard let total = message.totalCapacity else { throw .noCapacity }
    self.message = message
    capacity = ByteCount(total)
    let own = Self.ownProcess(in: message)
    ownProcess = own
    // A saturated reading (a driver's 2^64) is no figure at all: left out, never more than the GPU.
    let readings = message.otherProcesses.filter { $0.pid != own?.pid }.map(\.bytes).filter { $0 < Int64.max }
    otherProcesses = min(readings.reduce(ByteCount.zero) { $0 + ByteCount($1) }, capacity)
    available = capacity - otherProcesses
    let label = "GPU \(message.gpuIndex.map(String.init) ?? "?")"
    let source = "the out-of-memory message: total capacity less other processes"
    let device = (gpu ?? GPU.custom(capacity: available, label: label)).withCapacity(
      available, displayName: label + " (capacity from the message)", source: source)
    self.gpu = device
    do {
      estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: device)
    } catch {
      throw .estimate(error)
    }
  }
}

/// Why a message could not be held against an estimate.
public enum DiagnosisDetailError: Error, Sendable, CustomStringConvertible {
  /// The message does not state the GPU's total capacity (it was cut short).
  case noCapacity
  case estimate(SetupError)

  public var description: String {
    switch self {
    case .noCapacity:
      return "the out-of-memory message does not state the GPU's total capacity, so the run cannot be judged against it"
    case .estimate(let error): return error.description
    }
  }
}

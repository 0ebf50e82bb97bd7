/// Where the memory of one QLoRA training step goes, on the GPU and on the host.
public struct MemoryEstimate: Hashable, Sendable {
  public let model: ModelArchitecture
  public let setup: TrainingSetup
  public let gpu: GPU?
  /// Every component, in ``MemoryComponent/Kind`` order (the optimizer may appear twice:
  /// its GPU part and its paged host part).
  public let components: [MemoryComponent]
  public let trainableParameters: Int64
  /// The highest point of a steady-state step; nil while the transient part is not modelled.
  public let peak: PeakMemory?
  /// The step's moments above the resident bytes on the setup's platform (what
  /// measure_step.py reports): saved-for-backward and each phase's peak.
  public let step: StepProfile?
  private let assumptionLines: Deferred<[String]>
  public let warnings: [String]

  /// What the estimate assumes, in words (recipe, checkpointing, the step's phases).
  public var assumptions: [String] { assumptionLines.value }

  init(
    model: ModelArchitecture, setup: TrainingSetup, gpu: GPU?, components: [MemoryComponent],
    trainableParameters: Int64, peak: PeakMemory?, step: StepProfile? = nil, assumptions: @autoclosure @escaping @Sendable () -> [String],
    warnings: [String]
  ) {
    self.model = model
    self.setup = setup
    self.gpu = gpu
    self.components = components
    self.trainableParameters = trainableParameters
    self.peak = peak
    self.step = step
    self.assumptionLines = Deferred(assumptions)
    self.warnings = warnings
  }

  /// The GPU bytes that stay allocated for the whole run.
  public var residentBytes: ByteCount {
    ByteCount.sum(components.filter { $0.device == .gpu && $0.lifetime == .resident }.compactMap(\.bytes))
  }

  /// Host (CPU) memory the step needs: paged optimizer state.
  public var hostBytes: ByteCount {
    ByteCount.sum(components.filter { $0.device == .host }.compactMap(\.bytes))
  }

  /// The bytes of one component kind on one device (zero when absent, nil when not modelled).
  public func bytes(of kind: MemoryComponent.Kind, on device: MemoryComponent.Device = .gpu) -> ByteCount? {
    let matching = components.filter { $0.kind == kind && $0.device == device }
    guard !matching.isEmpty else { return .zero }
    var total = ByteCount.zero
    for component in matching {
      guard let bytes = component.bytes else { return nil }
      total = total + bytes
    }
    return total
  }

  /// Fits, tight or does not fit on ``gpu``; nil without a GPU or before the peak is modelled.
  public var verdict: Verdict? {
    guard let gpu, let peak else { return nil }
    return Verdict(peak: peak.process, capacity: gpu.capacity, uncertainty: peak.uncertainty)
  }
}

/// The highest point of a training step, three ways.
public struct PeakMemory: Hashable, Sendable {
  /// `torch.cuda.max_memory_allocated()`: bytes held by tensors.
  public let allocated: ByteCount
  /// `torch.cuda.max_memory_reserved()`: what the caching allocator holds from the driver.
  public let reserved: ByteCount
  /// What nvidia-smi shows for the process: reserved plus the CUDA context.
  public let process: ByteCount
  /// The phase of the step that sets the peak (`forward`, `backward`, `optimizer`).
  public let phase: String
  /// The relative uncertainty of `process` that the validation data supports (e.g. 0.05).
  public let uncertainty: Double

  public init(allocated: ByteCount, reserved: ByteCount, process: ByteCount, phase: String, uncertainty: Double) {
    self.allocated = allocated
    self.reserved = reserved
    self.process = process
    self.phase = phase
    self.uncertainty = uncertainty
  }
}

/// Whether a run fits a GPU.
public enum Verdict: String, Hashable, Sendable {
  /// The peak plus its uncertainty is below the capacity.
  case fits
  /// The capacity is inside the peak's uncertainty band.
  case tight
  case doesNotFit = "does_not_fit"

  public init(peak: ByteCount, capacity: ByteCount, uncertainty: Double) {
    let peakBytes = Double(peak.bytes)
    let capacityBytes = Double(capacity.bytes)
    if peak.isOverflow || peakBytes * (1 - uncertainty) > capacityBytes {
      self = .doesNotFit
    } else if peakBytes * (1 + uncertainty) > capacityBytes {
      self = .tight
    } else {
      self = .fits
    }
  }
}

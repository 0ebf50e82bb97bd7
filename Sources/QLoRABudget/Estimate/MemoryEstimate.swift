/// Where the memory of one QLoRA training step goes, on the GPU and on the host.
public struct MemoryEstimate: Hashable, Sendable {
  public let model: ModelArchitecture
  public let setup: TrainingSetup
  public let gpu: GPU?
  /// Every component, in ``MemoryComponent/Kind`` order (the optimizer may appear twice:
  /// its GPU part and its paged host part).
  public let components: [MemoryComponent]
  public let trainableParameters: Int64
  /// The highest point of a steady-state step.
  public let peak: PeakMemory
  /// The step's moments above the resident bytes on the setup's platform (what
  /// measure_step.py reports): saved-for-backward and each phase's peak.
  package let step: StepProfile
  /// The caching allocator's reserve, simulated over the run's schedule (nil off CUDA).
  package let reserve: AllocatorReserve?
  private let assumptionLines: Deferred<[String]>
  /// What the setup asks of ``gpu`` that it cannot do (bf16 before Ampere, bitsandbytes on
  /// Apple): the bytes are still counted, but the run would not go as configured.
  public let incompatibilities: [HardwareIncompatibility]
  /// Everything a person should be told: the model's warnings, the incompatibilities, then
  /// that the recipe is not validated.
  public var warnings: [String] {
    modelWarnings + incompatibilities.map(\.description) + (validationGap.map { [$0.description] } ?? [])
  }
  /// A sequence longer than the model was built for (``ContextLengthWarning``), part of ``warnings``.
  public var sequenceLengthWarnings: [String] { ContextLengthWarning.warnings(model, setup) }
  /// Set when the setup's recipe is not validated (``RecipeValidationGap``).
  public var validationGap: RecipeValidationGap? { RecipeValidationGap.of(setup.recipe) }
  private let modelWarnings: [String]
  /// Figures that are large because of a library version's behaviour, with the alternative.
  public let notes: [String]

  /// What the estimate assumes, in words (recipe, checkpointing, the step's phases).
  public var assumptions: [String] { assumptionLines.value }

  init(
    model: ModelArchitecture, setup: TrainingSetup, gpu: GPU?, components: [MemoryComponent],
    trainableParameters: Int64, peak: PeakMemory, step: StepProfile, reserve: AllocatorReserve?,
    assumptions: @autoclosure @escaping @Sendable () -> [String], warnings: [String],
    incompatibilities: [HardwareIncompatibility], notes: [String]
  ) {
    self.model = model
    self.setup = setup
    self.gpu = gpu
    self.components = components
    self.trainableParameters = trainableParameters
    self.peak = peak
    self.step = step
    self.reserve = reserve
    self.assumptionLines = Deferred(assumptions)
    self.modelWarnings = warnings
    self.incompatibilities = incompatibilities
    self.notes = notes
  }

  /// The GPU bytes that stay allocated for the whole run.
  public var residentBytes: ByteCount {
    ByteCount.sum(components.filter(\.isResidentOnGPU).map(\.bytes))
  }

  /// Host (CPU) memory the step needs: paged optimizer state.
  public var hostBytes: ByteCount {
    ByteCount.sum(components.filter { $0.device == .host }.map(\.bytes))
  }

  /// The bytes of one component kind on one device (zero when absent).
  public func bytes(of kind: MemoryComponent.Kind, on device: MemoryComponent.Device = .gpu) -> ByteCount {
    ByteCount.sum(components.filter { $0.kind == kind && $0.device == device }.map(\.bytes))
  }

  /// Fits, tight or does not fit on ``gpu`` (nil without a GPU): ``Verdict`` with the
  /// setup's measured margin (``VerdictMargin/of(_:)``), the CUDA context's uncertainty (``contextUncertainty``) and the
  /// ``completingProcessPeak``.
  public var verdict: Verdict? {
    gpu.map {
      Verdict(
        peak: peak.process, capacity: $0.capacity, margin: .of(setup), allowance: contextUncertainty,
        completingPeak: completingProcessPeak)
    }
  }

  /// When the simulated peak reserved exceeds the GPU but the run completes once the allocator
  /// releases its cached segments on out-of-memory retries: the process peak it then reaches
  /// (that reserved peak plus the CUDA context). nil otherwise, and off CUDA. A run whose
  /// tensors alone (the peak allocated plus the context) pass the GPU cannot complete, so it is
  /// not replayed a second time.
  public var completingProcessPeak: ByteCount? {
    guard let gpu, peak.allocated + peak.context <= gpu.capacity else { return nil }
    return reserve?.completingPeakReserved.map { $0 + peak.context }
  }

  /// The usable capacity minus the process peak (negative when over); nil without a GPU.
  public var headroom: Int64? {
    gpu.map { $0.capacity.bytes - peak.process.bytes }
  }
}

/// The phases of a training step, in order.
public enum StepPhase: String, CaseIterable, Hashable, Sendable {
  case forward, backward, optimizer
}

/// The highest point of a training step, three ways.
public struct PeakMemory: Hashable, Sendable {
  /// `torch.cuda.max_memory_allocated()`: bytes held by tensors.
  public let allocated: ByteCount
  /// `torch.cuda.max_memory_reserved()`: what the caching allocator holds from the driver.
  public let reserved: ByteCount
  /// What nvidia-smi shows for the process: reserved plus the CUDA context.
  public let process: ByteCount
  /// The phase of the step that sets the peak.
  public let phase: StepPhase

  /// The CUDA runtime the process holds beyond the allocator's reserve (process minus reserved).
  public var context: ByteCount { process - reserved }

  public init(allocated: ByteCount, reserved: ByteCount, process: ByteCount, phase: StepPhase) {
    self.allocated = allocated
    self.reserved = reserved
    self.process = process
    self.phase = phase
  }
}

extension MemoryEstimate {
  /// One part of the process peak.
  public struct PeakPart: Hashable, Sendable {
    public let label: String
    public let bytes: ByteCount
  }

  /// What the process peak is made of, summing exactly to ``PeakMemory/process``: every
  /// resident GPU component, the step's transient bytes at its peak moment (the transient
  /// components are each their own largest moment, so they are not added one by one), the
  /// allocator's reserve and the CUDA runtime. Charts draw these parts.
  public var peakParts: [PeakPart] {
    var parts = components.filter { $0.isResidentOnGPU && $0.bytes > .zero }
      .map { PeakPart(label: $0.kind.label, bytes: $0.bytes) }
    let transient = peak.allocated - residentBytes
    if transient > .zero {
      parts.append(PeakPart(label: "Step at its peak (\(peak.phase.rawValue))", bytes: transient))
    }
    for kind in [MemoryComponent.Kind.allocatorReserve, .runtime] where bytes(of: kind) > .zero {
      parts.append(PeakPart(label: kind.label, bytes: bytes(of: kind)))
    }
    return parts
  }
}

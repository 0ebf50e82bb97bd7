/// A steady-state training step, moment by moment: forward, backward, optimizer step, with the
/// optimizer state already allocated and the gradients freed by `zero_grad(set_to_none=True)`
/// before the step. The peak is the largest moment, not a sum of each part's maximum.
///
/// Bytes here are above the resident bytes (weights, adapters, optimizer state).
public struct StepProfile: Hashable, Sendable {
  /// What autograd holds at the end of forward (the model's parameters excluded).
  public let savedForBackward: ByteCount
  /// The largest moment of each phase, in step order.
  public let phases: [(name: StepPhase, bytes: ByteCount)]
  /// The model output a plain loop keeps referenced after the step (logits, and the key/value
  /// cache without checkpointing): live from the end of one forward to the end of the next.
  public let heldOutput: ByteCount

  public static func == (a: StepProfile, b: StepProfile) -> Bool {
    a.savedForBackward == b.savedForBackward && a.heldOutput == b.heldOutput
      && a.phases.map(\.name) == b.phases.map(\.name) && a.phases.map(\.bytes) == b.phases.map(\.bytes)
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(savedForBackward)
    hasher.combine(heldOutput)
    for phase in phases { hasher.combine(phase.name); hasher.combine(phase.bytes) }
  }

  /// The largest moment and its phase.
  public var peak: (name: StepPhase, bytes: ByteCount) {
    phases.max { $0.bytes < $1.bytes } ?? (.forward, .zero)
  }
}

/// The step's transient components and its profile.
struct StepPeak {
  let stack: StackActivations
  let loss: LogitsAndLoss
  let dequant: DequantBuffers
  let gradients: ByteCount
  let keyValueCache: ByteCount
  let profile: StepProfile

  init(_ context: StepContext, adapted: [LinearModule], gradients: ByteCount) {
    stack = StackActivations(context, adapted: adapted)
    loss = LogitsAndLoss(context)
    dequant = DequantBuffers(context)
    self.gradients = gradients
    let model = context.model
    // Without checkpointing transformers keeps use_cache on: the output's DynamicCache holds
    // every layer's k (after rotary) and v.
    keyValueCache = context.setup.usesGradientCheckpointing
      ? .zero : model.layerCount * (2 * context.perToken(model.keyValueWidth, context.projectionOutput(input: context.normOutput)))
    let kept = stack.kept + keyValueCache
    let upstream = 2 * context.perToken(model.hiddenSize, context.residual)
    let forwardLayer = kept + stack.recomputedLayer + stack.forwardTransient + dequant.bytes
    let forward = max(forwardLayer, kept + loss.forwardMoment)
    let backwardLoss = kept + loss.backwardMoment
    let backwardLayer = kept + loss.heldInBackward + stack.recomputedLayer + stack.backwardTransient
      + dequant.bytes + upstream + gradients
    let held = loss.logits + keyValueCache
    // AdamW (foreach) works on the gradients with temporaries of about their size.
    let optimizer = held + gradients + (context.setup.optimizer == .sgd ? .zero : gradients)
    profile = StepProfile(
      savedForBackward: stack.kept + loss.saved,
      phases: [(.forward, forward), (.backward, max(backwardLoss, backwardLayer)), (.optimizer, optimizer)],
      heldOutput: held)
  }
}

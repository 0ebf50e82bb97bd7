extension Planner.GPUPlan {
  /// The engine and offload the plan needs, or nil when it needs none: a plan of one GPU with
  /// plain FSDP is the single-GPU run (``TrainingSetup/usesEngine``), so no engine is named.
  public var engine: Planner.EngineChoice? { evaluation.setup.usesEngine ? choice : nil }
}

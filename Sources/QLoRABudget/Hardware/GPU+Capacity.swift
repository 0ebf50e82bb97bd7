extension GPU {
  /// The same device with another usable capacity: what a failed run's message states, or
  /// what is free on a GPU now. Architecture, compute capability and bf16 support stay.
  public func withCapacity(_ capacity: ByteCount, displayName: String, source: String) -> GPU {
    GPU(
      name: name, displayName: displayName, vendor: vendor, architecture: architecture,
      computeCapability: computeCapability, capacity: capacity, supportsBFloat16: supportsBFloat16,
      hasUnifiedMemory: hasUnifiedMemory, aliases: aliases, source: source)
  }
}

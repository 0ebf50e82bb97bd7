import QLoRABudget
import QLoRABudgetInputs

/// `--host-memory`, `--shard-size`, `--host-baseline`: the host side of `fit` and `estimate`.
enum HostOptions {
  static let hostMemory = OptionSpec.value(
    "--host-memory", "size",
    "Host RAM of each machine, e.g. 64GiB: fit then also says whether it holds the GPU processes it runs.")
  static let shardSize = OptionSpec.value(
    "--shard-size", "size", "The checkpoint's largest safetensors shard (read whole in 16-bit while quantizing).",
    default: "5GB")
  static let hostBaseline = OptionSpec.value(
    "--host-baseline", "size", "Host memory of the training process itself (Python, torch, CUDA; an assumption).",
    default: "3GiB")
  static let specs: [OptionSpec] = [hostMemory, shardSize, hostBaseline]

  static func size(_ arguments: ParsedArguments, _ option: OptionSpec) throws(UsageError) -> ByteCount? {
    guard let text = arguments.value(option) else { return nil }
    do {
      return try ByteCount(parsing: text)
    } catch {
      throw .invalidValue(text, for: option.name, error.description)
    }
  }

  /// The host estimate and, when --host-memory is given, whether it suffices.
  static func host(_ estimate: MemoryEstimate, _ arguments: ParsedArguments) throws(UsageError) -> (
    HostMemory, ByteCount?
  ) {
    let host = HostMemory(
      estimate, shardSize: try size(arguments, shardSize) ?? HostMemory.defaultShardSize,
      baseline: try size(arguments, hostBaseline) ?? HostMemory.defaultBaseline)
    return (host, try size(arguments, hostMemory))
  }

  static func text(_ host: HostMemory, capacity: ByteCount?) -> [String] {
    let processes = host.processesPerMachine
    var lines = [
      "Host memory: \(host.peak.formatted(.binary)) at most "
        + "(loading \(host.atLoad.formatted(.binary)), training \(host.whileTraining.formatted(.binary)))",
      "  = baseline \(host.baseline.formatted(.binary)) + max(one shard in 16-bit "
        + "\(host.loadTimeShard.formatted(.binary)),",
      "    paged state \(host.pagedOptimizerState.formatted(.binary))"
        + (host.offloadedActivations > .zero
          ? " + offloaded activations \(host.offloadedActivations.formatted(.binary)))" : ")"),
    ]
    if host.offloaded > .zero {
      lines.append("  + offloaded by the engine \(host.offloaded.formatted(.binary)) (while loading and training)")
    }
    if processes > 1 {
      lines.append(
        "  per GPU process; x \(processes) on each machine = \(host.perMachine.formatted(.binary)) per machine")
    }
    if let capacity {
      lines.append(
        "Host RAM \(capacity.formatted(.binary))" + (processes > 1 ? " per machine" : "") + ": "
          + (host.fits(in: capacity) ? "enough" : "NOT ENOUGH"))
    }
    return lines
  }

  static func json(_ host: HostMemory, capacity: ByteCount?) -> JSONOutput {
    .object([
      ("paged_optimizer_bytes", .bytes(host.pagedOptimizerState)), ("load_shard_bytes", .bytes(host.loadTimeShard)),
      ("offloaded_bytes", .bytes(host.offloaded)), ("offloaded_activations_bytes", .bytes(host.offloadedActivations)),
      ("baseline_bytes", .bytes(host.baseline)),
      ("at_load_bytes", .bytes(host.atLoad)), ("while_training_bytes", .bytes(host.whileTraining)),
      ("peak_bytes", .bytes(host.peak)), ("processes_per_machine", .integer(host.processesPerMachine)),
      ("per_machine_bytes", .bytes(host.perMachine)), ("capacity_bytes", .bytes(capacity)),
      ("fits", capacity.map { .bool(host.fits(in: $0)) } ?? .null),
    ])
  }
}

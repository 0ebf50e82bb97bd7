import QLoRABudget
import QLoRABudgetInputs

/// `diagnose --json`: `{"messages": [...], "diagnosis": {...} or null}` (docs/cli.md). Bytes are
/// integers; a figure the message does not state is null.
enum DiagnosisJSON {
  static func object(_ messages: [OutOfMemoryMessage], _ report: DiagnosisReport?) -> JSONOutput {
    .object([("messages", .array(messages.map(message))), ("diagnosis", report.map(diagnosis) ?? .null)])
  }

  static func message(_ message: OutOfMemoryMessage) -> JSONOutput {
    let bytes = { (value: Int64?) -> JSONOutput in value.map { JSONOutput.integer($0) } ?? .null }
    let others: [JSONOutput] = message.otherProcesses.map {
      .object([("pid", .integer($0.pid)), ("bytes", .integer($0.bytes))])
    }
    var members: [(String, JSONOutput)] = [
      ("backend", .string(message.backend.rawValue)),
      ("rank", bytes(message.rank)),
      ("tried_to_allocate_bytes", bytes(message.triedToAllocate)),
      ("gpu_index", bytes(message.gpuIndex)),
      ("total_capacity_bytes", bytes(message.totalCapacity)),
      ("free_bytes", bytes(message.free)),
      ("allocated_by_pytorch_bytes", bytes(message.allocatedByPyTorch)),
    ]
    members += [
      ("reserved_by_pytorch_bytes", bytes(message.reservedByPyTorch)),
      ("reserved_unallocated_bytes", bytes(message.reservedUnallocated)),
      ("allocated_in_private_pools_bytes", bytes(message.allocatedInPrivatePools)),
      ("allowed_bytes", bytes(message.allowed)),
      ("process_in_use_bytes", bytes(message.processInUse)),
      ("other_processes", .array(others)),
      ("suggests", message.suggests.map { .string($0.rawValue) } ?? .null),
      ("saturated", .array(message.saturated.map { .string($0) })),
    ]
    return .object(members)
  }

  static func diagnosis(_ report: DiagnosisReport) -> JSONOutput {
    let diagnosis = report.diagnosis
    let estimate = diagnosis.estimate
    let phases: [JSONOutput] = diagnosis.phases.map { phase, bytes in
      .object([("phase", .string(phase.rawValue)), ("process_bytes", .bytes(bytes))])
    }
    // Built in parts: one literal of this size is too slow for the type checker in -O builds.
    var members: [(String, JSONOutput)] = [
      ("message", .integer(Int64(report.messageNumber))),
      ("model", .string(estimate.model.name)),
      ("setup", EstimateJSON.setup(estimate.setup)),
      ("gpu", EstimateJSON.gpu(diagnosis.gpu)),
      ("capacity_bytes", .bytes(diagnosis.capacity)),
      ("own_process_pid", diagnosis.ownProcess.map { .integer($0.pid) } ?? .null),
      ("other_processes_bytes", .bytes(diagnosis.otherProcesses)),
      ("available_bytes", .bytes(diagnosis.available)),
    ]
    members += [
      ("peak_allocated_bytes", .bytes(estimate.peak.allocated)),
      ("peak_reserved_bytes", .bytes(estimate.peak.reserved)),
      ("peak_process_bytes", .bytes(estimate.peak.process)),
      ("peak_phase", .string(estimate.peak.phase.rawValue)),
      ("phases", .array(phases)),
      ("verdict", estimate.verdict.map { .string($0.rawValue) } ?? .null),
      ("headroom_bytes", estimate.headroom.map { .integer($0) } ?? .null),
    ]
    let setting: JSONOutput = diagnosis.fragmentationIsTheDifference ? .string(diagnosis.allocatorSetting) : .null
    members += [
      ("shortfall_bytes", .bytes(diagnosis.shortfall)),
      ("fragmentation_is_the_difference", .bool(diagnosis.fragmentationIsTheDifference)),
      ("allocator_setting", setting),
      ("changes", .array(report.changes.map(FitChangeText.json))),
    ]
    return .object(members)
  }
}

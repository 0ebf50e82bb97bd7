import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Testing

/// A message held against the estimate: what the run had, fragmentation, the run's own process.
@Suite struct OutOfMemoryDiagnosisTests {
  static func message(_ name: String) throws -> OutOfMemoryMessage {
    let text = try String(contentsOf: OutOfMemoryReaderTests.folder.appendingPathComponent(name), encoding: .utf8)
    return try #require(try OutOfMemoryReader.messages(in: text).first)
  }

  static func diagnose(_ message: OutOfMemoryMessage) throws -> OutOfMemoryDiagnosis {
    try OutOfMemoryDiagnosis(
      message: message, model: try PresetCatalog.bundled.model(named: "qwen3-4b"), setup: TrainingSetup(), gpu: nil)
  }

  /// A driver's 2^64 for the other process is no figure: it is left out, and the run had the
  /// whole capacity (24.00 GiB = 24 x 2^30).
  @Test func saturatedReadingsAreLeftOut() throws {
    let diagnosis = try Self.diagnose(try Self.message("axolotl-998-absurd.txt"))
    #expect(diagnosis.otherProcesses == .zero && diagnosis.ownProcess == nil)
    #expect(diagnosis.available == ByteCount(24 << 30))
    #expect(diagnosis.gpu.capacity == ByteCount(24 << 30))
  }

  /// 20.00 MiB asked, 0 bytes free, 121.23 MiB reserved but unallocated: fragmentation. 136.00
  /// MiB asked with 93.81 MiB free and 2.30 MiB unallocated: not.
  @Test func fragmentationIsTheDifferenceOnlyWhenTheReservedRoomHoldsTheRequest() throws {
    #expect(try Self.diagnose(try Self.message("axolotl-998-absurd.txt")).fragmentationIsTheDifference)
    #expect(
      try !Self.diagnose(try Self.message("llamafactory-1936-capacty-processes.txt")).fragmentationIsTheDifference)
    let hip = try Self.diagnose(try Self.message("rocm-therock-1054-hip.txt"))
    // 16.00 GiB asked, 15.09 GiB free, nothing reserved: not fragmentation; the setting is HIP's.
    #expect(
      !hip.fragmentationIsTheDifference && hip.allocatorSetting == "PYTORCH_HIP_ALLOC_CONF=expandable_segments:True")
  }

  /// PyTorch in a container names its own process `Process N`: the one holding at least what
  /// PyTorch reserved (37.36 GiB + 76.66 MiB; process 112077 holds 39.38 GiB) is the run.
  @Test func theRunsOwnProcessIsNotAnother() throws {
    let diagnosis = try Self.diagnose(try Self.message("peft-1703-gpu1.txt"))
    #expect(diagnosis.ownProcess?.pid == 112_077)
    #expect(diagnosis.otherProcesses == .zero)
    // With a "this process" clause, every listed process is another one: 4.97 GiB = 497 x 2^30 / 100.
    let both = try Self.diagnose(try Self.message("instructlab-2666-rank0-both.txt"))
    #expect(both.ownProcess == nil && both.otherProcesses == ByteCount((497 * (1 << 30) + 50) / 100))
  }

  @Test func aMessageWithoutCapacityIsRefused() throws {
    #expect(throws: DiagnosisDetailError.self) {
      try Self.diagnose(try Self.message("llamafactory-4263-cut-short.txt"))
    }
  }
}

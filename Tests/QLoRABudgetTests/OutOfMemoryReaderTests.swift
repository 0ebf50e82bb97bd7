import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Testing

/// Sizes as PyTorch prints them, in hundredths of the unit ("23.65 GiB" is gib(2365)), turned
/// into bytes by the arithmetic written out here: round(hundredths x 2^k / 100), halves up.
private func gib(_ hundredths: Int64) -> Int64 { (hundredths * (1 << 30) + 50) / 100 }
private func mib(_ hundredths: Int64) -> Int64 { (hundredths * (1 << 20) + 50) / 100 }
private func kib(_ hundredths: Int64) -> Int64 { (hundredths * (1 << 10) + 50) / 100 }

/// The real messages in Fixtures/oom-messages (SOURCES.md says where each was posted): every
/// figure each states, read exactly; what it does not state, nil.
@Suite struct OutOfMemoryReaderTests {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/oom-messages")

  static func fixture(_ name: String) throws -> String {
    try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
  }

  typealias Message = OutOfMemoryMessage

  static func message(
    _ backend: Message.Backend = .cuda, rank: Int64? = nil, tried: Int64?, gpu: Int64?, total: Int64?,
    free: Int64? = nil,
    allocated: Int64? = nil, reserved: Int64? = nil, unallocated: Int64? = nil, pools: Int64? = nil,
    process: Int64? = nil, others: [(Int64, Int64)] = [], suggests: Message.Suggestion? = nil, saturated: [String] = []
  ) -> Message {
    var message = Message(backend: backend)
    message.rank = rank
    message.triedToAllocate = tried
    message.gpuIndex = gpu
    message.totalCapacity = total
    message.free = free
    message.allocatedByPyTorch = allocated
    message.reservedByPyTorch = reserved
    message.reservedUnallocated = unallocated
    message.allocatedInPrivatePools = pools
    message.processInUse = process
    message.otherProcesses = others.map { Message.OtherProcess(pid: $0.0, bytes: $0.1) }
    message.suggests = suggests
    message.saturated = saturated
    return message
  }

  static let expected: [(String, Message)] = [
    (
      "pytorch-16417-current.txt",
      message(
        tried: mib(2200), gpu: 0, total: gib(2365), free: mib(1106), allocated: gib(2290), unallocated: mib(19487),
        process: gib(2360), suggests: .expandableSegments)
    ),
    (
      "pytorch-16417-cached.txt",
      message(
        tried: mib(1250), gpu: 0, total: gib(1092), free: gib(928), allocated: mib(857), unallocated: mib(468))
    ),
    (
      "pytorch-59778-reserved.txt",
      message(
        tried: gib(226), gpu: 0, total: gib(600), free: gib(303), allocated: mib(78159), reserved: gib(124))
    ),
    (
      "llama-cookbook-235-gpu2.txt",
      message(
        tried: mib(100_000), gpu: 2, total: gib(1557), free: mib(79338), allocated: gib(1277), reserved: gib(1455),
        suggests: .maxSplitSizeMB)
    ),
    (
      "llamafactory-1936-capacty-processes.txt",
      message(
        tried: mib(13600), gpu: 0, total: gib(2365), free: mib(9381), allocated: gib(2151), unallocated: mib(230),
        others: [
          (62201, mib(39800)), (62203, mib(39800)), (62204, mib(39800)), (62200, gib(2198)), (62202, mib(39800)),
        ],
        suggests: .maxSplitSizeMB)
    ),
    // 17179869184.00 GiB = 2^34 x 2^30 = 2^64 bytes: beyond Int64, saturated at Int64.max.
    (
      "axolotl-998-absurd.txt",
      message(
        tried: mib(2000), gpu: 0, total: gib(2400), free: 0, allocated: gib(2301), unallocated: mib(12123),
        process: 9_223_372_036_854_775_807, others: [(2_954_422, 9_223_372_036_854_775_807)], suggests: .maxSplitSizeMB,
        saturated: ["process_in_use_bytes", "other_processes"])
    ),
    (
      "llamafactory-7781-rank5.txt",
      message(
        rank: 5, tried: mib(27000), gpu: 5, total: gib(2365), free: mib(20806), allocated: gib(2287),
        unallocated: mib(623),
        others: [(2_271_800, gib(2344))], suggests: .expandableSegments)
    ),
    (
      "trl-4237-processes.txt",
      message(
        tried: gib(211), gpu: 0, total: gib(1474), free: gib(165), allocated: gib(450), unallocated: gib(214),
        others: [(19066, gib(679)), (19069, mib(51400)), (19060, gib(493)), (19063, mib(89400))],
        suggests: .expandableSegments)
    ),
    (
      "trl-3172-zero-bytes-carets.txt",
      message(
        tried: mib(13000), gpu: 0, total: gib(7910), free: mib(1281), allocated: gib(1047), unallocated: mib(9352),
        process: 0, others: [3427, 3423, 3429, 3426, 3428, 3424, 3425].map { ($0, 0) }, suggests: .expandableSegments)
    ),
    (
      "rocm-therock-1054-hip.txt",
      message(
        .hip, tried: gib(1600), gpu: 0, total: gib(1524), free: gib(1509), allocated: 0, unallocated: 0,
        suggests: .expandableSegments)
    ),
    // Cut short inside the advice, after the setting's name.
    (
      "unsloth-1144-process.txt",
      message(
        tried: gib(594), gpu: 0, total: gib(2217), free: gib(576), allocated: gib(1585), unallocated: mib(30650),
        others: [(29726, gib(1639))], suggests: .expandableSegments)
    ),
    (
      "instructlab-2666-rank0-both.txt",
      message(
        rank: 0, tried: mib(23800), gpu: 0, total: gib(2205), free: mib(1081), allocated: gib(1543),
        unallocated: gib(107),
        process: gib(1705), others: [(43872, gib(497))], suggests: .expandableSegments)
    ),
    ("llamafactory-4263-cut-short.txt", message(tried: mib(11200), gpu: nil, total: nil)),
    (
      "mgfn-35-zero-free-no-process.txt",
      message(
        tried: gib(170), gpu: 0, total: gib(600), free: 0, allocated: gib(293), unallocated: gib(230),
        suggests: .maxSplitSizeMB)
    ),
    (
      "generativegraph-5-kib-cached.txt",
      message(
        tried: kib(102_400), gpu: 0, total: gib(1117), free: kib(57600), allocated: gib(1090), unallocated: mib(3096))
    ),
    (
      "peft-1703-gpu1.txt",
      message(
        tried: gib(392), gpu: 1, total: gib(3939), free: mib(200), allocated: gib(3736), unallocated: mib(7666),
        others: [(112_077, gib(3938))], suggests: .expandableSegments)
    ),
    // The `export` line after the message is not the message's advice; the message's own is.
    (
      "sglang-private-pools.txt",
      message(
        tried: mib(76800), gpu: 0, total: gib(8305), free: mib(14038), allocated: gib(2192), unallocated: mib(79779),
        pools: mib(10400), process: gib(2333), suggests: .expandableSegments)
    ),
    (
      "hardwrapped-private-pools.txt",
      message(
        tried: mib(33600), gpu: 0, total: gib(3140), free: mib(37112), allocated: gib(2895), unallocated: mib(13845),
        pools: mib(2200), process: gib(2979))
    ),
  ]

  @Test func everyFixtureIsCovered() throws {
    let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".txt") }
    #expect(Set(files) == Set(Self.expected.map(\.0)))
  }

  @Test(arguments: 0..<expected.count) func readsEveryStatedFigure(_ index: Int) throws {
    let (name, expected) = Self.expected[index]
    let messages = try OutOfMemoryReader.messages(in: try Self.fixture(name))
    #expect(messages == [expected], "\(name)")
  }

  /// A terminal wraps at any column, inside a number or between a number and its unit; a
  /// launcher prefixes each line with the rank. Neither changes a figure.
  @Test(arguments: [23, 41, 80]) func wrappedAndPrefixedReadTheSame(_ width: Int) throws {
    for (name, expected) in Self.expected where expected.rank == nil {
      let text = try Self.fixture(name)
      var wrapped = ""
      for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        var rest = Substring(line)
        repeat {
          wrapped += "[rank3]: " + rest.prefix(width) + (width == 41 ? "\r\n" : "\n")  // 41: a Windows paste
          rest = rest.dropFirst(width)
        } while !rest.isEmpty
      }
      var withRank = expected
      withRank.rank = 3
      #expect(try OutOfMemoryReader.messages(in: wrapped) == [withRank], "\(name) wrapped at \(width)")
    }
  }

  /// Two ranks' messages with their lines interleaved come apart again, in order of the line
  /// each begins on; `[RANK:1]` is read like `[rank1]:`.
  @Test func interleavedRanks() throws {
    let first = try Self.fixture("trl-4237-processes.txt").dropFirst(2)  // without the quote marker
    let second = try Self.fixture("peft-1703-gpu1.txt").split(separator: "\n")[1]
    var text = ""
    let a = Array(first.split(separator: "\n")[0]).chunked(60)
    let b = Array(second).chunked(45)
    for index in 0..<max(a.count, b.count) {
      if index < a.count { text += "[rank0]: " + String(a[index]) + "\n" }
      if index < b.count { text += "[RANK:1] " + String(b[index]) + "\n" }
    }
    let messages = try OutOfMemoryReader.messages(in: text)
    #expect(messages.map(\.rank) == [0, 1])
    #expect(messages.map(\.triedToAllocate) == [gib(211), gib(392)])
    #expect(messages.map(\.gpuIndex) == [0, 1])
    #expect(messages[1].otherProcesses == [.init(pid: 112_077, bytes: gib(3938))])
  }

  /// Launchers' other prefixes: torchrun's `[default2]:`, mpirun's `[1,2]<stderr>:`, and a
  /// host name before the rank (DeepSpeed's pdsh launcher).
  @Test(arguments: ["[default2]:", "[1,2]<stderr>:", "worker-1: [rank2]:"]) func launcherPrefixes(_ prefix: String)
    throws
  {
    let text = try Self.fixture("peft-1703-gpu1.txt").split(separator: "\n")[1]
    let pasted = stride(from: 0, to: text.count, by: 50).map { start in
      prefix + " " + text.dropFirst(start).prefix(50)
    }.joined(separator: "\n")
    let message = try #require(try OutOfMemoryReader.messages(in: pasted).first)
    #expect(message.rank == 2 && message.triedToAllocate == gib(392) && message.free == mib(200))
    #expect(message.otherProcesses == [.init(pid: 112_077, bytes: gib(3938))])
  }

  @Test func everyMessageInOrder() throws {
    let text = try Self.fixture("pytorch-59778-reserved.txt") + "noise\n" + Self.fixture("rocm-therock-1054-hip.txt")
    let messages = try OutOfMemoryReader.messages(in: text)
    #expect(messages.map(\.backend) == [.cuda, .hip])
    #expect(messages.map(\.triedToAllocate) == [gib(226), gib(1600)])
  }

  /// Variants of real messages edited to the shapes PyTorch prints in rarer cases: the cap
  /// `torch.cuda.set_per_process_memory_fraction` sets (`X allowed;`, both formats), and a GPU
  /// index left out.
  @Test func allowedClauseAndMissingIndex() throws {
    let current = try Self.fixture("pytorch-16417-current.txt")
      .replacingOccurrences(of: "memory in use. Of the", with: "memory in use. 20.00 GiB allowed; Of the")
      .replacingOccurrences(of: "GPU 0 has", with: "GPU has")
    let read = try #require(try OutOfMemoryReader.messages(in: current).first)
    #expect(
      read.allowed == gib(2000) && read.gpuIndex == nil && read.totalCapacity == gib(2365)
        && read.processInUse == gib(2360))
    let old = try Self.fixture("pytorch-59778-reserved.txt")
      .replacingOccurrences(of: "3.03 GiB free;", with: "3.03 GiB free; 5.50 GiB allowed;")
      .replacingOccurrences(of: "(GPU 0;", with: "(GPU ;")
    let oldRead = try #require(try OutOfMemoryReader.messages(in: old).first)
    #expect(
      oldRead.allowed == gib(550) && oldRead.gpuIndex == nil && oldRead.free == gib(303)
        && oldRead.reservedByPyTorch == gib(124))
  }

  @Test func noMessageIsAnError() {
    #expect(throws: DiagnosisError.noMessage) {
      try OutOfMemoryReader.messages(
        in: "Traceback (most recent call last):\n  RuntimeError: CUDA error: out of memory\n")
    }
    // Mentioning the error is not a message: no figure is stated.
    #expect(throws: DiagnosisError.noMessage) {
      try OutOfMemoryReader.messages(in: "I keep getting CUDA out of memory on my 4090")
    }
    #expect(throws: DiagnosisError.noMessage) { try OutOfMemoryReader.messages(in: "") }
  }

  @Test func hugePasteIsRefused() {
    let text = String(repeating: "x", count: OutOfMemoryReader.maximumInputBytes + 1)
    #expect(
      throws: DiagnosisError.inputTooLarge(
        bytes: Int64(OutOfMemoryReader.maximumInputBytes + 1), limit: Int64(OutOfMemoryReader.maximumInputBytes))
    ) {
      try OutOfMemoryReader.messages(in: text)
    }
  }

  @Test func printedSizesAreExact() {
    // 1.5 GiB = 3 x 2^29; 0.01 MiB = 10485.76 -> 10486; 1024.00 KiB = 2^20; 8 EiB-ish saturates.
    #expect(PrintedSize(value: "1.5", unit: .GiB)?.bytes == 3 << 29)
    #expect(PrintedSize(value: "0.01", unit: .MiB)?.bytes == 10486)
    #expect(PrintedSize(value: "1024.00", unit: .KiB)?.bytes == 1 << 20)
    #expect(PrintedSize(value: "576", unit: .bytes)?.bytes == 576)
    // 8589934591.99 GiB is just under 2^63 bytes: (858993459199 x 2^30 + 50) / 100.
    #expect(PrintedSize(value: "8589934591.99", unit: .GiB)?.bytes == 9_223_372_036_844_038_390)
    #expect(PrintedSize(value: "8589934592.00", unit: .GiB)?.saturated == true)  // 2^33 x 2^30 = 2^63
    #expect(PrintedSize(value: "1.2.3", unit: .GiB) == nil)
    #expect(PrintedSize(value: "1.", unit: .GiB) == nil)
    #expect(PrintedSize(value: "", unit: .GiB) == nil)
  }
}

extension Array {
  fileprivate func chunked(_ size: Int) -> [ArraySlice<Element>] {
    stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
  }
}

import Foundation
import Testing

/// Sizes as PyTorch prints them, in hundredths ("23.65 GiB" is gib(2365)), in bytes by the
/// arithmetic written out here: round(hundredths x 2^k / 100).
private func gib(_ hundredths: Int64) -> Int64 { (hundredths * (1 << 30) + 50) / 100 }
private func mib(_ hundredths: Int64) -> Int64 { (hundredths * (1 << 20) + 50) / 100 }

/// `qlora-budget diagnose` run as a binary: the message from a file, stdin or the argument;
/// the figures in JSON as exact integers; bad input refused; the failure against the estimate.
@Suite struct DiagnoseCommandTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("QLoRABudgetTests/Fixtures/oom-messages")

  static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

  /// Runs the binary with `input` on stdin.
  static func run(_ arguments: [String], input: Data, environment: [String: String] = ["NO_COLOR": "1"]) throws
    -> BinaryRunner.Result
  {
    let process = Process()
    process.executableURL = BinaryRunner.binary
    process.arguments = arguments
    process.environment = environment
    let (stdin, stdout, stderr) = (Pipe(), Pipe(), Pipe())
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    // The child may stop reading (a paste past its cap): a write error, not SIGPIPE, then.
    signal(SIGPIPE, SIG_IGN)
    let writer = Thread {
      try? stdin.fileHandleForWriting.write(contentsOf: input)
      try? stdin.fileHandleForWriting.close()
    }
    writer.start()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    let err = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return BinaryRunner.Result(
      status: process.terminationStatus, standardOutput: String(decoding: out, as: UTF8.self),
      standardError: String(decoding: err, as: UTF8.self))
  }

  @Test func readsAFileToExactIntegers() throws {
    let result = try BinaryRunner.run(["diagnose", Self.fixture("llamafactory-1936-capacty-processes.txt"), "--json"])
    #expect(result.status == 0)
    // No byte figure is written as a float: every "..._bytes" and "bytes" value is digits.
    let floats = try NSRegularExpression(pattern: #""[a-z_]*bytes": -?[0-9]+\.[0-9]"#)
    #expect(
      floats.firstMatch(
        in: result.standardOutput, range: NSRange(location: 0, length: result.standardOutput.utf16.count)) == nil)
    let json = try BinaryRunner.json(result)
    let message = try #require((json["messages"] as? [[String: Any]])?.first)
    #expect((message["tried_to_allocate_bytes"] as? NSNumber)?.int64Value == mib(13600))
    #expect((message["total_capacity_bytes"] as? NSNumber)?.int64Value == gib(2365))
    #expect((message["free_bytes"] as? NSNumber)?.int64Value == mib(9381))
    #expect((message["allocated_by_pytorch_bytes"] as? NSNumber)?.int64Value == gib(2151))
    #expect((message["reserved_unallocated_bytes"] as? NSNumber)?.int64Value == mib(230))
    #expect(message["reserved_by_pytorch_bytes"] is NSNull && message["process_in_use_bytes"] is NSNull)
    #expect(message["suggests"] as? String == "max_split_size_mb")
    let others = try #require(message["other_processes"] as? [[String: Any]])
    #expect(others.map { ($0["pid"] as? NSNumber)?.int64Value } == [62201, 62203, 62204, 62200, 62202])
    #expect(
      others.map { ($0["bytes"] as? NSNumber)?.int64Value } == [
        mib(39800), mib(39800), mib(39800), gib(2198), mib(39800),
      ])
    #expect(json["diagnosis"] is NSNull)
  }

  @Test func readsStandardInputAndTheArgument() throws {
    let text = try String(contentsOfFile: Self.fixture("rocm-therock-1054-hip.txt"), encoding: .utf8)
    for result in [
      try Self.run(["diagnose", "-", "--json"], input: Data(text.utf8)),
      try BinaryRunner.run(["diagnose", text, "--json"]),
    ] {
      #expect(result.status == 0)
      let message = try #require((try BinaryRunner.json(result)["messages"] as? [[String: Any]])?.first)
      #expect(message["backend"] as? String == "HIP")
      #expect((message["tried_to_allocate_bytes"] as? NSNumber)?.int64Value == gib(1600))
      #expect((message["total_capacity_bytes"] as? NSNumber)?.int64Value == gib(1524))
    }
  }

  @Test func noMessageIsAnErrorOnOneLine() throws {
    for result in [
      try BinaryRunner.run(["diagnose", "Traceback: RuntimeError: CUDA error: an illegal memory access"]),
      try Self.run(["diagnose", "-"], input: Data()),
    ] {
      #expect(result.status == 1)
      #expect(result.standardError.hasPrefix("Error: no out-of-memory message found"))
      #expect(result.standardError.split(separator: "\n").count == 1)
      #expect(result.standardOutput.isEmpty)
    }
  }

  /// A paste past the cap is refused without being read whole: stdin and a file alike.
  @Test func hugePasteIsBounded() throws {
    let huge = Data(repeating: UInt8(ascii: "x"), count: 5 << 20)
    let piped = try Self.run(["diagnose", "-"], input: huge)
    #expect(piped.status == 1)
    #expect(piped.standardError.contains("more than the 4194304 bytes read"))
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("huge-\(UUID().uuidString).log")
    try huge.write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let read = try BinaryRunner.run(["diagnose", file.path])
    #expect(read.status == 1 && read.standardError.contains("more than the 4194304 bytes read"))
  }

  /// Fragmentation made the difference: the 22.00 MiB request exceeded the 11.06 MiB free but
  /// not the 194.87 MiB reserved and unallocated. The estimate on the message's capacity is the
  /// one `fit` gives for a GPU of that many bytes.
  @Test func explainsAgainstTheEstimate() throws {
    let setup = ["qwen3-8b", "--seq-len", "4096"]
    let result = try BinaryRunner.run(["diagnose", Self.fixture("pytorch-16417-current.txt")] + setup + ["--json"])
    #expect(result.status == 0)
    let diagnosis = try #require(try BinaryRunner.json(result)["diagnosis"] as? [String: Any])
    #expect((diagnosis["capacity_bytes"] as? NSNumber)?.int64Value == gib(2365))
    #expect((diagnosis["available_bytes"] as? NSNumber)?.int64Value == gib(2365))
    #expect((diagnosis["shortfall_bytes"] as? NSNumber)?.int64Value == mib(2200) - mib(1106))
    #expect(diagnosis["fragmentation_is_the_difference"] as? Bool == true)
    #expect(diagnosis["allocator_setting"] as? String == "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True")
    let fit = try BinaryRunner.json(try BinaryRunner.run(["fit"] + setup + ["--gpu", "\(gib(2365))B", "--json"]))
    #expect((diagnosis["peak_process_bytes"] as? NSNumber) == (fit["peak_process_bytes"] as? NSNumber))
    #expect(diagnosis["verdict"] as? String == fit["verdict"] as? String)
    let changes = try #require(diagnosis["changes"] as? [[String: Any]])
    if fit["verdict"] as? String != "fits" { #expect(!changes.isEmpty) }
    let text = try BinaryRunner.run(["diagnose", Self.fixture("pytorch-16417-current.txt")] + setup)
    #expect(text.standardOutput.contains("\n    PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True\n"))
  }

  /// A tight verdict over the capacity (Qwen3-14B r=32 against 22.05 GiB = 23,676,007,219 B: a
  /// 23,840,423,936 B peak that completes only with the allocator's cache released) is not
  /// "within its margin below the capacity": the explanation says it is over, as fit does.
  @Test func aTightRunOverTheCapacityIsNotCalledBelowIt() throws {
    let message =
      "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB. GPU 0 has a total capacity of "
      + "22.05 GiB of which 145.50 MiB is free. Including non-PyTorch memory, this process has 21.90 GiB memory in "
      + "use. Of the allocated memory 20.13 GiB is allocated by PyTorch, and 1.31 GiB is reserved by PyTorch but "
      + "unallocated."
    let setup = ["diagnose", message, "qwen3-14b", "--rank", "32"]
    let diagnosis = try #require(
      try BinaryRunner.json(try BinaryRunner.run(setup + ["--json"]))["diagnosis"] as? [String: Any])
    #expect((diagnosis["available_bytes"] as? NSNumber)?.int64Value == 23_676_007_219)
    #expect(diagnosis["verdict"] as? String == "tight")
    #expect(((diagnosis["peak_process_bytes"] as? NSNumber)?.int64Value ?? 0) > 23_676_007_219)
    // The explanation is wrapped in 80 columns: read it as one line.
    let text = try BinaryRunner.run(setup).standardOutput.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    #expect(!text.contains("within its margin below the capacity"))
    #expect(text.contains("over what the GPU had for it as simulated"))
  }

  /// Other processes' memory is taken off the capacity. The message lists five processes and
  /// no "this process" clause (PyTorch in a container): process 62200, holding 21.98 GiB, at
  /// least the 21.51 GiB + 2.30 MiB PyTorch reserved, is the run itself; the other four hold
  /// 4 x 398.00 MiB.
  @Test func otherProcessesReduceWhatTheRunHad() throws {
    let result = try BinaryRunner.run([
      "diagnose", Self.fixture("llamafactory-1936-capacty-processes.txt"), "qwen3-4b", "--json",
    ])
    let diagnosis = try #require(try BinaryRunner.json(result)["diagnosis"] as? [String: Any])
    let others = 4 * mib(39800)
    #expect((diagnosis["own_process_pid"] as? NSNumber)?.int64Value == 62200)
    #expect((diagnosis["other_processes_bytes"] as? NSNumber)?.int64Value == others)
    #expect((diagnosis["available_bytes"] as? NSNumber)?.int64Value == gib(2365) - others)
    // Fragmentation is not the difference: 136.00 MiB asked, 93.81 MiB free + 2.30 MiB unallocated.
    #expect(diagnosis["fragmentation_is_the_difference"] as? Bool == false)
    #expect(diagnosis["allocator_setting"] is NSNull)
    // Another process holding most of the GPU leaves a 14B run too little.
    let crowded = try BinaryRunner.run(["diagnose", Self.fixture("trl-4237-processes.txt"), "qwen3-14b", "--json"])
    let judged = try #require(try BinaryRunner.json(crowded)["diagnosis"] as? [String: Any])
    // 19066 (6.79 GiB >= 4.50 GiB + 2.14 GiB reserved) is the run; 514.00 MiB + 4.93 GiB + 894.00 MiB are others.
    #expect((judged["own_process_pid"] as? NSNumber)?.int64Value == 19066)
    #expect((judged["other_processes_bytes"] as? NSNumber)?.int64Value == mib(51400) + gib(493) + mib(89400))
    #expect(judged["verdict"] as? String == "does_not_fit")
  }

  @Test func aMessageWithoutCapacityCannotBeJudged() throws {
    let result = try BinaryRunner.run(["diagnose", Self.fixture("llamafactory-4263-cut-short.txt"), "qwen3-4b"])
    #expect(result.status == 1)
    #expect(result.standardError.hasPrefix("Error: the out-of-memory message does not state the GPU's total capacity"))
  }
}

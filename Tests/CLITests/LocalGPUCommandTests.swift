import Foundation
import Testing

/// `--gpu auto` with a stand-in `nvidia-smi` on PATH (a shell script printing what the real
/// one prints for the query), and without one.
@Suite struct LocalGPUCommandTests {
  /// A folder holding an executable `nvidia-smi` with `body`, removed by the caller.
  static func standIn(_ body: String) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nvidia-smi-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let script = folder.appendingPathComponent("nvidia-smi")
    try ("#!/bin/sh\n" + body + "\n").write(to: script, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
    return folder
  }

  static let twoGPUs = """
    echo "0, NVIDIA GeForce RTX 4090, 24564, 3012, 21552, 8.9"
    echo "1, NVIDIA GeForce RTX 4090, 24564, 1, 24217, 8.9"
    """

  /// The case: 21,552 MiB free of 24,564: the capacity judged is at most the free
  /// memory (21552 x 2^20 bytes), and the preset's architecture comes along.
  @Test func judgesAgainstTheFreeMemoryNow() throws {
    let folder = try Self.standIn(Self.twoGPUs)
    defer { try? FileManager.default.removeItem(at: folder) }
    let result = try BinaryRunner.run(
      ["fit", "qwen3-8b", "--gpu", "auto", "--json"],
      environment: ["NO_COLOR": "1", "PATH": folder.path + ":/usr/bin:/bin"])
    #expect([0, 2, 3].contains(result.status), "\(result.standardError)")
    let gpu = try #require(try BinaryRunner.json(result)["gpu"] as? [String: Any])
    let capacity = try #require((gpu["capacity_bytes"] as? NSNumber)?.int64Value)
    #expect(capacity <= 21552 * 1_048_576)
    #expect(gpu["name"] as? String == "rtx-4090" && gpu["architecture"] as? String == "Ada Lovelace")
    #expect((gpu["display_name"] as? String)?.contains("21,552 MiB free of 24,564 MiB now, 3,012 MiB in use") == true)
  }

  /// CUDA_VISIBLE_DEVICES=1 makes nvidia-smi's GPU 1 CUDA's device 0; auto:1 is then not there.
  @Test func honoursCUDAVisibleDevices() throws {
    let folder = try Self.standIn(Self.twoGPUs)
    defer { try? FileManager.default.removeItem(at: folder) }
    let environment = ["NO_COLOR": "1", "PATH": folder.path + ":/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": "1"]
    let auto = try BinaryRunner.run(["estimate", "qwen3-8b", "--gpu", "auto", "--json"], environment: environment)
    let gpu = try #require(try BinaryRunner.json(auto)["gpu"] as? [String: Any])
    #expect((gpu["display_name"] as? String)?.hasPrefix("NVIDIA GeForce RTX 4090 (GPU 1): 24,217 MiB free") == true)
    let missing = try BinaryRunner.run(["estimate", "qwen3-8b", "--gpu", "auto:1"], environment: environment)
    #expect(missing.status == 1)
    #expect(missing.standardError == "Error: GPU 1 is not visible: 1 GPU is (0...0)\n")
  }

  @Test func withoutNvidiaSMIAOneLineError() throws {
    let empty = FileManager.default.temporaryDirectory.appendingPathComponent("no-smi-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: empty) }
    let result = try BinaryRunner.run(
      ["fit", "qwen3-8b", "--gpu", "auto"], environment: ["NO_COLOR": "1", "PATH": empty.path])
    #expect(result.status == 1)
    #expect(
      result.standardError == "Error: nvidia-smi not found on PATH: no NVIDIA driver here to read the GPUs from\n")
    let failing = try Self.standIn(
      "echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'; exit 9")
    defer { try? FileManager.default.removeItem(at: failing) }
    let failed = try BinaryRunner.run(
      ["fit", "qwen3-8b", "--gpu", "auto"], environment: ["NO_COLOR": "1", "PATH": failing.path])
    #expect(failed.status == 1)
    #expect(failed.standardError == "Error: nvidia-smi failed (exit status 9): the NVIDIA driver did not answer\n")
    let typo = try BinaryRunner.run(
      ["fit", "qwen3-8b", "--gpu", "auto:x"], environment: ["NO_COLOR": "1", "PATH": failing.path])
    #expect(typo.status == 64)
  }
}

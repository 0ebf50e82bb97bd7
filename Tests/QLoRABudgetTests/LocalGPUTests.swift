import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Testing

/// nvidia-smi's CSV, CUDA_VISIBLE_DEVICES, the preset a device name maps to, and the capacity a
/// run is judged against (the memory free now).
@Suite struct LocalGPUTests {
  static let presets = try! PresetCatalog.bundled.allGPUs()

  @Test func readsTheQueryOutput() throws {
    let gpus = try NvidiaSMIReport.parse(
      "0, NVIDIA GeForce RTX 4090, 24564, 3012, 21552, 8.9\n1, Tesla T4, 15360, 0, 14930, 7.5\n")
    #expect(gpus.count == 2)
    // 24,564 MiB = 24564 x 2^20 bytes; 21,552 MiB free; 3,012 MiB used.
    #expect(
      gpus[0]
        == LocalGPU(
          index: 0, name: "NVIDIA GeForce RTX 4090", total: ByteCount(24564 * 1_048_576),
          used: ByteCount(3012 * 1_048_576),
          free: ByteCount(21552 * 1_048_576), computeCapability: ComputeCapability(major: 8, minor: 9)))
    #expect(gpus[1].computeCapability == ComputeCapability(major: 7, minor: 5))
    #expect(try NvidiaSMIReport.parse("0, Old GPU, 4096, 0, 4000, [N/A]")[0].computeCapability == nil)
  }

  @Test func refusesWhatIsNotTheQueryOutput() {
    #expect(throws: LocalGPUError.noGPU) { try NvidiaSMIReport.parse("\n") }
    #expect(throws: LocalGPUError.malformed(line: 1, reason: "expected 6 comma-separated fields, found 1")) {
      try NvidiaSMIReport.parse("No devices were found")
    }
    #expect(throws: LocalGPUError.malformed(line: 2, reason: "memory.total '[N/A]' is not a number of MiB")) {
      try NvidiaSMIReport.parse("0, NVIDIA L4, 23034, 0, 22000, 8.9\n1, NVIDIA GB10, [N/A], [N/A], [N/A], 12.1")
    }
  }

  static let names: [(String, Int64, String?)] = [
    ("NVIDIA GeForce RTX 4090", 24564, "rtx-4090"),
    ("NVIDIA A100-SXM4-80GB", 81920, "a100-80gb"),
    ("NVIDIA A100-PCIE-40GB", 40960, "a100-40gb"),
    ("NVIDIA H100 80GB HBM3", 81559, "h100-80gb"),
    ("NVIDIA H100 PCIe", 81559, "h100-pcie"),
    ("NVIDIA H100 NVL", 95830, "h100-nvl"),
    ("Tesla T4", 15360, "t4"),
    ("NVIDIA A10G", 23028, "a10g"),
    ("NVIDIA A10", 23028, "a10"),
    ("NVIDIA L4", 23034, "l4"),
    ("NVIDIA L40S", 46068, "l40s"),
    ("NVIDIA RTX A6000", 49140, "rtx-a6000"),
    ("NVIDIA RTX 6000 Ada Generation", 49140, "rtx-6000-ada"),
    ("NVIDIA GeForce RTX 4060 Ti", 16380, "rtx-4060-ti-16gb"),
    ("NVIDIA GeForce RTX 4060", 8188, "rtx-4060"),
    ("Tesla V100-SXM2-32GB", 32768, "v100-32gb"),
    ("NVIDIA GeForce GTX 1080 Ti", 11264, nil),
  ]

  @Test func mapsNamesToPresets() {
    for (name, mib, preset) in Self.names {
      let gpu = LocalGPU(
        index: 0, name: name, total: ByteCount(mib << 20), used: .zero, free: ByteCount(mib << 20),
        computeCapability: nil)
      #expect(gpu.matchingPreset(among: Self.presets)?.name == preset, "\(name)")
    }
  }

  /// The case: 21,552 MiB free of 24,564 on an RTX 4090: the capacity is at most the
  /// free memory, the architecture the preset's.
  @Test func judgesAgainstTheFreeMemory() {
    let local = LocalGPU(
      index: 0, name: "NVIDIA GeForce RTX 4090", total: ByteCount(24564 << 20), used: ByteCount(3012 << 20),
      free: ByteCount(21552 << 20), computeCapability: ComputeCapability(major: 8, minor: 9))
    let gpu = local.judged(among: Self.presets)
    #expect(gpu.capacity == ByteCount(21552 << 20))
    #expect(gpu.name == "rtx-4090" && gpu.architecture == .adaLovelace && gpu.supportsBFloat16)
    // Idle, free exceeds what torch can allocate: the preset's usable capacity caps it.
    let idle = LocalGPU(
      index: 0, name: "NVIDIA GeForce RTX 4090", total: ByteCount(24564 << 20), used: .zero,
      free: ByteCount(24564 << 20), computeCapability: nil)
    #expect(idle.judged(among: Self.presets).capacity == Self.presets.first { $0.name == "rtx-4090" }!.capacity)
    // No preset: the compute capability decides the architecture and bf16.
    let pascal = LocalGPU(
      index: 2, name: "NVIDIA GeForce GTX 1080 Ti", total: ByteCount(11264 << 20), used: .zero,
      free: ByteCount(11000 << 20), computeCapability: ComputeCapability(major: 6, minor: 1))
    let judged = pascal.judged(among: Self.presets)
    #expect(judged.capacity == ByteCount(11000 << 20) && !judged.supportsBFloat16 && judged.architecture == nil)
  }

  @Test func honoursCUDAVisibleDevices() throws {
    let gpus = (0..<4).map {
      LocalGPU(
        index: $0, name: "GPU", total: ByteCount(1 << 30), used: .zero, free: ByteCount(1 << 30), computeCapability: nil
      )
    }
    #expect(try NvidiaSMIReport.visible(gpus, cudaVisibleDevices: nil).map(\.index) == [0, 1, 2, 3])
    #expect(try NvidiaSMIReport.visible(gpus, cudaVisibleDevices: "2,0").map(\.index) == [2, 0])
    // CUDA stops at the first entry naming no device.
    #expect(try NvidiaSMIReport.visible(gpus, cudaVisibleDevices: "3,9,1").map(\.index) == [3])
    #expect(throws: LocalGPUError.noVisibleGPU(cudaVisibleDevices: "")) {
      try NvidiaSMIReport.visible(gpus, cudaVisibleDevices: "")
    }
    #expect(throws: LocalGPUError.noVisibleGPU(cudaVisibleDevices: "-1")) {
      try NvidiaSMIReport.visible(gpus, cudaVisibleDevices: "-1")
    }
    #expect(throws: LocalGPUError.visibleDeviceByUUID("GPU-8f0e")) {
      try NvidiaSMIReport.visible(gpus, cudaVisibleDevices: "GPU-8f0e")
    }
  }

  /// A stand-in nvidia-smi that hangs is stopped at the timeout; one that fails is reported.
  @Test func runsNvidiaSMIBounded() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("smi-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let script = folder.appendingPathComponent("nvidia-smi")
    func install(_ body: String) throws {
      try ("#!/bin/sh\n" + body + "\n").write(to: script, atomically: true, encoding: .utf8)
      try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
    }
    let environment = ["PATH": folder.path + ":/usr/bin:/bin"]
    try install("echo \"$@\"")
    #expect(
      try NvidiaSMIRunner.query(environment: environment) == NvidiaSMIReport.arguments.joined(separator: " ") + "\n")
    try install("exit 9")
    #expect(throws: LocalGPUError.failed(status: 9)) { try NvidiaSMIRunner.query(environment: environment) }
    try install("exec sleep 30")
    let start = Date()
    #expect(throws: LocalGPUError.timedOut(seconds: 1)) {
      try NvidiaSMIRunner.query(environment: environment, timeoutSeconds: 1)
    }
    #expect(Date().timeIntervalSince(start) < 10)
    #expect(throws: LocalGPUError.notFound) {
      try NvidiaSMIRunner.query(environment: ["PATH": folder.appendingPathComponent("none").path])
    }
  }
}

import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Testing

/// Hardware sanity through the real binary: the incompatibilities in text and JSON, and the
/// peak's label on a device without nvidia-smi.
@Suite struct HardwareCommandTests {
  @Test func bf16OnATeslaT4IsAWarningInTextAndJSON() throws {
    let text = try BinaryRunner.run(["fit", "smollm2-135m", "--gpu", "t4"])
    #expect(text.status == 0)
    #expect(text.standardError.contains("warning: NVIDIA Tesla T4 has no native bf16 compute"))
    #expect(text.standardError.contains("; use --dtype fp16"))
    let json = try BinaryRunner.json(try BinaryRunner.run(["fit", "smollm2-135m", "--gpu", "t4", "--json"]))
    let found = try #require(json["incompatibilities"] as? [[String: Any]])
    #expect(found.compactMap { $0["kind"] as? String } == ["compute_dtype_unsupported"])
    #expect((json["warnings"] as? [String])?.contains { $0.contains("no native bf16") } == true)
    let gpu = try #require(json["gpu"] as? [String: Any])
    #expect(gpu["architecture"] as? String == "Turing")
    #expect(gpu["compute_capability"] as? String == "7.5")
    #expect(gpu["supports_bf16"] as? Bool == false)

    let fp16 = try BinaryRunner.run(["fit", "smollm2-135m", "--gpu", "t4", "--dtype", "fp16", "--json"])
    #expect(fp16.standardError.isEmpty)
    #expect((try BinaryRunner.json(fp16)["incompatibilities"] as? [Any])?.isEmpty == true)
  }

  @Test func appleDevicesGetABitsandbytesWarningAndNoNvidiaSmiLabel() throws {
    let apple = try BinaryRunner.run(["fit", "smollm2-135m", "--gpu", "apple-m4-max-128gb"])
    #expect(apple.standardError.contains("bitsandbytes has no training backend"))
    #expect(!apple.standardOutput.contains("nvidia-smi"))
    #expect(apple.standardOutput.contains("Peak process "))
    let cuda = try BinaryRunner.run(["fit", "smollm2-135m", "--gpu", "a10g"])
    #expect(cuda.standardError.isEmpty)
    #expect(cuda.standardOutput.contains("Peak process (nvidia-smi)"))
  }

  @Test func solveNeverProposesAGPUThatCannotRunTheSetup() throws {
    func smallest(_ extra: [String]) throws -> GPU {
      let json = try BinaryRunner.json(
        try BinaryRunner.run(["solve", "llama-3.2-3b", "--seq-len", "4096", "--find", "gpu", "--json"] + extra))
      let name = try #require(((json["smallest_gpu"] as? [String: Any])?["fits"] as? [String: Any])?["gpu"] as? String)
      return try PresetCatalog.bundled.gpu(named: name)
    }
    // In fp16 the smallest card that fits Llama-3.2-3B at 4,096 tokens has no bf16 (a Turing
    // card); in bf16 the search passes over it to a larger card that has bf16.
    let fp16 = try smallest(["--dtype", "fp16"])
    let bf16 = try smallest([])
    #expect(!fp16.supportsBFloat16)
    #expect(bf16.supportsBFloat16 && bf16.runsBitsandbytes)
    #expect(bf16.capacity > fp16.capacity)
  }

  /// compare and table judge setups on GPUs too: each incompatibility is warned once.
  @Test func compareAndTableWarnOnceAboutEachIncompatibility() throws {
    let compare = try BinaryRunner.run([
      "compare", "smollm2-135m", "--gpu", "t4,v100-16gb,a10g", "--setups", "qlora,lora-16bit",
    ])
    #expect(compare.status == 0)
    let lines = compare.standardError.split(separator: "\n")
    #expect(lines.count == 2)
    #expect(lines.allSatisfy { $0.contains("no native bf16") })
    let table = try BinaryRunner.run([
      "table", "--models", "smollm2-135m,smollm2-360m", "--gpu", "t4", "--ranks", "8,16",
    ])
    #expect(table.standardError.split(separator: "\n").count == 1)
  }
}

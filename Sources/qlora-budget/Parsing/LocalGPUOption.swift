import QLoRABudget
import QLoRABudgetInputs

/// `--gpu auto` and `--gpu auto:N`: the GPU of this machine (CUDA's device 0, or N), read with
/// nvidia-smi now and judged against its free memory.
enum LocalGPUOption {
  /// Whether `text` asks for a local GPU.
  static func isLocal(_ text: String) -> Bool { text == "auto" || text.hasPrefix("auto:") }

  static func gpu(_ text: String, presets: PresetCatalog, environment: [String: String]) throws -> GPU {
    var wanted = 0
    if text.hasPrefix("auto:") {
      guard let index = Int(text.dropFirst(5)), index >= 0 else {
        throw UsageError.invalidValue(
          text, for: "--gpu", "'auto:N' takes a GPU index N (0, 1, ...) as CUDA numbers them")
      }
      wanted = index
    }
    let all = try NvidiaSMIReport.parse(try NvidiaSMIRunner.query(environment: environment))
    let visible = try NvidiaSMIReport.visible(all, cudaVisibleDevices: environment["CUDA_VISIBLE_DEVICES"])
    guard wanted < visible.count else { throw LocalGPUError.indexOutOfRange(index: wanted, count: visible.count) }
    return visible[wanted].judged(among: try presets.allGPUs())
  }
}

// libFuzzer harness: a Hugging Face config.json (and the same bytes as a model and a GPU
// preset), then the estimator on the model it describes. Built by Tests/Fuzz/run.sh; not part
// of the SwiftPM package.
//
// Checks, beyond "no crash": an accepted config gives finite, positive dimensions within the
// documented limits; every estimate either throws a SetupError or has no overflowed component
// and a resident total equal to the sum of its resident GPU components.
import Foundation
import QLoRABudget
import QLoRABudgetInputs

private let setups: [TrainingSetup] = {
  var plain = TrainingSetup()
  plain.lora.targets = .allLinear
  var huge = TrainingSetup()
  huge.lora.rank = LoRAConfiguration.maximumRank
  huge.sequenceLength = TrainingSetup.maximumSequenceLength
  huge.batchSize = TrainingSetup.maximumBatchSize
  huge.lora.usesDoRA = true
  huge.usesDoubleQuantization = false
  huge.blockSize = 32
  var full = TrainingSetup()
  full.isFullFineTune = true
  full.optimizer = .adamw
  var peft = TrainingSetup()
  peft.lora.targets = .peftDefault
  return [plain, huge, full, peft]
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let data = Data(bytes: start, count: count)
  if let model = try? ModelArchitecture(configData: data, name: "fuzz") {
    check(model)
  }
  if let text = String(data: data, encoding: .utf8) {
    let catalog = PresetCatalog(modelTexts: ["m": text], gpuTexts: ["g": text])
    if let gpu = try? catalog.gpu(named: "g") {
      require(gpu.capacity.bytes > 0 && !gpu.capacity.isOverflow, "GPU preset with capacity \(gpu.capacity.bytes)")
    }
    _ = try? catalog.model(named: "m")
  }
  return 0
}

private func check(_ model: ModelArchitecture) {
  for setup in setups {
    let estimate: MemoryEstimate
    do {
      estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: nil)
    } catch {
      _ = error.description  // the message is built without trapping
      continue
    }
    var resident = ByteCount.zero
    for component in estimate.components {
      let bytes = component.bytes
      require(!bytes.isOverflow, "component \(component.kind) overflowed without an error")
      if component.device == .gpu && component.lifetime == .resident { resident = resident + bytes }
    }
    require(resident == estimate.residentBytes && !resident.isOverflow, "resident total is not the sum")
    require(estimate.trainableParameters >= 0, "negative trainable parameters")
  }
}

/// Reports a broken invariant with its message (kept in optimized builds) and aborts.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
  guard !condition else { return }
  FileHandle.standardError.write(Data("fuzz invariant broken: \(message())\n".utf8))
  abort()
}

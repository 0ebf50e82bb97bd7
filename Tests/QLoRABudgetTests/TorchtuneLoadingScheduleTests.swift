import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// torchtune 0.1's model init (``CheckpointLoader/torchtune01``) against its sequence written out
/// from the source, and against the model-init reserve torchtune published for it.
@Suite struct TorchtuneLoadingScheduleTests {
  /// A normalised trace: allocations by size and kind, frees by the ordinal of the allocation.
  enum Event: Equatable, CustomStringConvertible {
    case allocate(Int64, ScheduledTensor)
    case free(Int)

    var description: String {
      switch self {
      case .allocate(let bytes, let tensor): return "a \(bytes) \(tensor)"
      case .free(let ordinal): return "f #\(ordinal)"
      }
    }
  }

  /// The sequence restated here from the sources, op by op: torchao v0.1 `dtypes/nf4tensor.py`
  /// and torchtune 0914d5cfb.
  struct Trace {
    var events: [Event] = []
    private var count = 0

    mutating func a(_ bytes: Int64, _ tensor: ScheduledTensor = .quantizationTemporary) -> Int {
      events.append(.allocate(bytes, tensor))
      count += 1
      return count - 1
    }

    mutating func f(_ ordinals: Int...) { events += ordinals.map(Event.free) }
    mutating func f(_ ordinals: [Int]) { events += ordinals.map(Event.free) }

    /// `NF4Tensor.from_tensor(weight, 64, 256)` of a bf16 weight of `n` elements whose block
    /// count `n / 64` is at most 256 (one scaler group: the factor storage is 256 entries).
    /// The kept buffers' ordinals: scalers, factors, mean, packed, code.
    mutating func toNF4(_ n: Int64) -> [Int] {
      let blocks = n / 64
      let code = a(16 * 2, .quantizedWeight)  // torch.tensor([...16 values], bfloat16)
      // double_quantize_scalers: get_block_absmax(weight, 64)
      let abs1 = a(n * 2)
      let scalers = a(blocks * 2)
      let indices1 = a(blocks * 8)
      f(abs1, indices1)
      let mean = a(2, .quantizedWeight)  // scalers_1.mean()
      let centred = a(blocks * 2)  // scalers_1 - mean
      f(scalers)
      // get_block_absmax(scalers_1, 256): one group
      let abs2 = a(blocks * 2)
      let scalerAbsmax = a(1 * 2)
      let indices2 = a(1 * 8)
      f(abs2, indices2)
      let doubled = a(256 * 2)  // 2 * scaler_absmax over the expanded (1, 256) view
      let factors = a(256 * 2, .quantizedWeight)  // 256 / (...): [:, 0] keeps this storage
      f(doubled)
      let multiplied = a(blocks * 2)
      let rounded = a(blocks * 2)
      f(multiplied)
      let clamped = a(blocks * 2)
      f(rounded)
      let quantizedScalers = a(blocks, .quantizedWeight)  // .to(torch.int8)
      f(clamped, centred, scalerAbsmax)
      // convert_to_norm_float_weight
      let abs3 = a(n * 2)
      let scales = a(blocks * 2)
      let indices3 = a(blocks * 8)
      f(abs3, indices3)
      let scaled = a(n * 2)  // blocks / scales
      let difference = a(n * 16 * 2)  // value.unsqueeze(-1) - nf4
      let absolute = a(n * 16 * 2)  // .abs()
      f(difference)
      let minimum = a(n * 2)  // .min(dim=-1).values
      let nearest = a(n * 8)  // .indices (int64)
      f(minimum, absolute)
      let shifted = a(n / 2 * 8)  // quantized_blocks[::2] << 4
      let combined = a(n / 2 * 8)  // | quantized_blocks[1::2]
      f(shifted)
      let packed = a(n / 2, .quantizedWeight)  // .to(torch.uint8)
      f(scales, scaled, nearest, combined)
      return [quantizedScalers, factors, mean, packed, code]
    }

    /// `get_original_weight()` of an `NF4Tensor` of `n` elements: the weight's ordinal.
    mutating func originalWeight(_ n: Int64) -> Int {
      let blocks = n / 64
      let high = a(n / 2)  // quantized_data >> 4
      let first = a(n / 2 * 8)  // .to(torch.long)
      f(high)
      let low = a(n / 2)  // quantized_data & 0b1111
      let second = a(n / 2 * 8)
      f(low)
      let firstValues = a(n / 2 * 2)  // nf4[first]
      let secondValues = a(n / 2 * 2)
      let divided = a(blocks * 2)  // quantized_scalers / quantization_factor
      let dequantizedScalers = a(blocks * 2)  // + scaler_mean
      f(divided)
      let repeatedFirst = a(n / 2 * 2)  // repeated.flatten()
      let scaledFirst = a(n / 2 * 2)
      f(repeatedFirst)
      let repeatedSecond = a(n / 2 * 2)
      let scaledSecond = a(n / 2 * 2)
      f(repeatedSecond)
      let weight = a(n * 2, .stagingCopy)  // torch.stack
      f(first, second, firstValues, secondValues, dequantizedScalers, scaledFirst, scaledSecond)
      return weight
    }
  }

  /// A Llama of hidden 64, 4 heads, MLP 128, vocab 100, untied lm_head, 2 layers.
  static func tinyModel() throws -> ModelArchitecture {
    try TestData.model([
      "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
      "intermediate_size": 128, "vocab_size": 100, "tie_word_embeddings": false,
    ])
  }

  /// The schedule's loading phase, normalised like ``Trace``.
  static func loading(_ schedule: AllocationSchedule) -> [Event] {
    var ordinals: [Int32: Int] = [:]
    var events: [Event] = []
    var inLoading = false
    for event in schedule.events {
      switch event {
      case .phase(let phase): inLoading = phase == .loading
      case .allocate(let id, let bytes, let tensor) where inLoading:
        ordinals[id] = ordinals.count
        events.append(.allocate(bytes, tensor))
      case .free(let id) where inLoading: events.append(.free(ordinals[id] ?? -1))
      default: break
      }
    }
    return events
  }

  /// Model init of the tiny model, rank 8 on every projection, in torchtune 0.1's order: the
  /// template layer (q, k, v, o, then gate, down, up: each bf16 weight quantized, then dropped,
  /// then lora_a and lora_b), tok_embeddings and output, two deep copies of the layer (each
  /// 4-bit weight dequantized, quantized, its buffers copied in `__dict__` order and the
  /// clone's dropped; the adapters copied), the template dropped, then load_state_dict
  /// quantizing a GPU copy of each checkpoint weight and dropping the weight's old buffers.
  @Test func modelInitFollowsTorchtunesSequence() throws {
    let setup = try AllocationScheduleTests.setup("--recipe torchtune-0.1 --rank 8 --lora-dropout 0")
    let schedule = try MemoryEstimator.schedule(
      model: try Self.tinyModel(), setup: setup, gpu: GPU.custom(capacity: .gibibytes(80), label: "80GiB"),
      loader: .torchtune01)
    // (elements, lora_a bytes r x in x 2, lora_b bytes out x r x 2) in torchtune's build order.
    let attention: (Int64, Int64, Int64) = (64 * 64, 8 * 64 * 2, 64 * 8 * 2)
    let gate: (Int64, Int64, Int64) = (128 * 64, 8 * 64 * 2, 128 * 8 * 2)
    let down: (Int64, Int64, Int64) = (64 * 128, 8 * 128 * 2, 64 * 8 * 2)
    let modules = [attention, attention, attention, attention, gate, down, gate]
    var trace = Trace()
    var template: [Int] = []
    for (n, loraA, loraB) in modules {
      let weight = trace.a(n * 2, .stagingCopy)
      template += trace.toNF4(n)
      trace.f(weight)
      template += [trace.a(loraA, .adapter), trace.a(loraB, .adapter)]
    }
    _ = trace.a(100 * 64 * 2, .unquantizedWeight)  // tok_embeddings
    _ = trace.a(100 * 64 * 2, .unquantizedWeight)  // output
    var layers: [[[Int]]] = []
    for _ in 0..<2 {
      var layer: [[Int]] = []
      for (n, loraA, loraB) in modules {
        let weight = trace.originalWeight(n)
        let clone = trace.toNF4(n)
        trace.f(weight)
        // scalers, factors (256 entries), mean, packed, code
        layer.append([n / 64, 256 * 2, 2, n / 2, 16 * 2].map { trace.a($0, .quantizedWeight) })
        trace.f(clone)
        _ = (trace.a(loraA, .adapter), trace.a(loraB, .adapter))
      }
      layers.append(layer)
    }
    trace.f(template)
    for layer in layers {
      for (index, (n, _, _)) in modules.enumerated() {
        let copy = trace.a(n * 2, .stagingCopy)
        let loaded = trace.toNF4(n)
        trace.f(copy)
        trace.f(layer[index])
        _ = loaded
      }
    }
    // The rest of the 16-bit component: the norms (2 per layer and the final one, 64 x 2 B) and
    // the rotary buffers the component counts (inv_freq and original_inv_freq, 8 fp32 each).
    _ = trace.a(5 * 64 * 2 + 2 * 8 * 4, .unquantizedWeight)
    let loading = Self.loading(schedule)
    #expect(loading.count >= trace.events.count)
    let mismatch = zip(loading, trace.events).enumerated().first { $0.element.0 != $0.element.1 }
    #expect(
      mismatch == nil, "event \(mismatch?.offset ?? -1): \(mismatch.map { "\($0.element.0) != \($0.element.1)" } ?? "")"
    )
    // What follows in the loading phase is the other resident components, allocated only.
    #expect(
      loading.dropFirst(trace.events.count).allSatisfy { if case .allocate(_, .other) = $0 { true } else { false } })
  }

  /// Row 056 (torchtune's QLoRA tutorial, Llama-2-7B, torchtune 0.1 with torchao 0.1):
  /// `torch.cuda.max_memory_reserved()` after model init was 9.13 GB, 9.29 GB after training.
  /// The replayed model init reaches the first within 1%, the whole run the second.
  @Test func row056ModelInitReserveMatchesThePublishedFigure() throws {
    let rows = try JSONSerialization.jsonObject(with: try TestData.calibration("published/measurements.json"))
    let row = try #require((rows as? [[String: Any]])?.first { $0["id"] as? String == "056" })
    let quote = try #require(row["quote"] as? String)
    #expect(quote.contains("QLoRA                  9.13 GB                             9.29 GB"))
    let initReserved = 9.13e9
    let trainingReserved = try #require(row["value"] as? Double) * 1e9
    let setup = try AllocationScheduleTests.setup(
      "--recipe torchtune-0.1 --rank 8 --lora-dropout 0 --seq-len 512 --batch 2 --loss standard --autocast off "
        + "--attn sdpa")
    let model = try PresetCatalog.bundled.model(named: "llama-2-7b")
    let gpu = try PresetCatalog.bundled.gpu(named: "rtx-4090")
    let schedule = try MemoryEstimator.schedule(model: model, setup: setup, gpu: gpu, loader: .torchtune01)
    var allocator = CachingAllocator(settings: setup.allocator)
    var blocks: [Int32: Int32] = [:]
    scan: for event in schedule.events {
      switch event {
      case .phase(let phase) where phase != .loading: break scan
      case .phase: break
      case .allocate(let id, let bytes, let tensor):
        // Unlimited capacity: every request is served.
        blocks[id] = allocator.malloc(bytes, tensor) ?? -1
      case .free(let id): allocator.free(blocks.removeValue(forKey: id) ?? -1)
      }
    }
    #expect(!blocks.values.contains(-1))
    let modelInit = Double(allocator.peakReserved)
    #expect(abs(modelInit / initReserved - 1) < 0.01, "\(modelInit)")
    let estimate = try MemoryEstimator.estimate(model: model, setup: setup, gpu: gpu)
    let reserved = Double(try #require(estimate.reserve).peakReserved.bytes)
    #expect(abs(reserved / trainingReserved - 1) < 0.01, "\(reserved)")
  }
}

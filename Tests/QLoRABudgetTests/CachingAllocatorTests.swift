import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// The caching allocator's rules, on sequences computed by hand from PyTorch 2.10's
/// CUDACachingAllocator.cpp, and on random sequences replayed by the allocator study's
/// allocsim.py (Tests/Calibration/allocator/, with the script that made them).
@Suite struct CachingAllocatorTests {
  static let mib: Int64 = 1 << 20

  /// Allocates and requires a block (no out-of-memory).
  func take(_ allocator: inout CachingAllocator, _ bytes: Int64, _ tensor: ScheduledTensor) throws -> Int32 {
    let block = allocator.malloc(bytes, tensor)
    return try #require(block)
  }

  @Test func segmentsSplitsAndReuseFollowTheRules() throws {
    var a = CachingAllocator(settings: .pytorchDefault)
    // 100 B rounds to 512 B, from a new 2 MiB small segment.
    _ = try take(&a, 100, .other)
    #expect(a.allocated == 512 && a.reserved == 2 * Self.mib)
    // 5 MiB: under 10 MiB, so a 20 MiB segment, split (15 MiB rest > 1 MiB).
    _ = try take(&a, 5 * Self.mib, .other)
    #expect(a.reserved == 22 * Self.mib)
    // 12 MiB fits the 15 MiB rest: no new segment; 3 MiB stay free.
    _ = try take(&a, 12 * Self.mib, .other)
    #expect(a.reserved == 22 * Self.mib)
    // 3 MiB - 100 B rounds up to 3 MiB (a multiple of 512 B): the whole 3 MiB rest is handed out.
    _ = try take(&a, 3 * Self.mib - 100, .other)
    #expect(a.allocated == 512 + 20 * Self.mib)
    // 129 MiB + 12,345 B: a segment rounded up to 2 MiB, 130 MiB; the 0.99 MiB rest is not split.
    let big = try take(&a, 129 * Self.mib + 12_345, .stagingCopy)
    #expect(a.reserved == 152 * Self.mib && a.allocated == 512 + 150 * Self.mib)
    a.free(big)
    // The cached 130 MiB block serves 24 MiB (split: 106 MiB rest), no cudaMalloc.
    _ = try take(&a, 24 * Self.mib, .other)
    #expect(a.reserved == 152 * Self.mib)
    let free = a.freeBlocks(limit: 1)
    #expect(free.first?.bytes == 106 * Self.mib && free.first?.tensor == .stagingCopy)
  }

  @Test func freesMergeWithFreeNeighbours() throws {
    var a = CachingAllocator(settings: .pytorchDefault)
    let first = try take(&a, 4 * Self.mib, .other)
    let second = try take(&a, 4 * Self.mib, .other)
    _ = try take(&a, 4 * Self.mib, .other)
    a.free(second)
    a.free(first)
    // 4 + 4 MiB merged: a 7 MiB request fits without a new segment.
    #expect(a.freeBlocks(limit: 3).map(\.bytes) == [8 * Self.mib, 8 * Self.mib])
    _ = try take(&a, 7 * Self.mib, .other)
    #expect(a.reserved == 20 * Self.mib)
  }

  @Test func maxSplitSizeKeepsOversizeBlocksWhole() throws {
    var a = CachingAllocator(settings: AllocatorSettings(maxSplitBytes: 64 * Self.mib))
    let big = try take(&a, 100 * Self.mib, .other)
    a.free(big)
    // A 30 MiB request may not take the oversize 100 MiB block: a new 30 MiB segment.
    _ = try take(&a, 30 * Self.mib, .other)
    #expect(a.reserved == 130 * Self.mib)
    // An 90 MiB request takes it (within 20 MiB), whole: allocated counts 100 MiB.
    _ = try take(&a, 90 * Self.mib, .other)
    #expect(a.reserved == 130 * Self.mib && a.allocated == 130 * Self.mib)
  }

  @Test func expandableSegmentsGrowByPages() throws {
    var a = CachingAllocator(settings: AllocatorSettings(expandableSegments: true))
    // 5 MiB maps one 20 MiB page; 30 MiB extends the 15 MiB free tail by one more page.
    _ = try take(&a, 5 * Self.mib, .other)
    _ = try take(&a, 30 * Self.mib, .other)
    #expect(a.reserved == 40 * Self.mib)
    var b = CachingAllocator(settings: .pytorchDefault)
    _ = try take(&b, 5 * Self.mib, .other)
    _ = try take(&b, 30 * Self.mib, .other)
    #expect(b.reserved == 50 * Self.mib)
  }

  /// PyTorch 2.10's expandable segments on an out-of-memory retry, by hand: the large pool maps
  /// 20 MiB pages (`kLargeBuffer`); a release unmaps the whole pages inside every free block
  /// (`release_blocks` -> `unmap_block`), the rest of a page shared with a live block staying
  /// mapped; a request is mapped into the lowest unmapped range that, with the free blocks
  /// around it, holds it (`find_expandable_block`). Offsets and sizes in MiB from the
  /// segment's start; reserved = mapped pages.
  @Test func expandableSegmentsUnmapFreePagesAndRefillTheLowestGap() throws {
    let m = Self.mib
    let space = CachingAllocatorSimulation<SortedFreeBlockPool>.addressSpace
    var a = CachingAllocator(settings: AllocatorSettings(expandableSegments: true), capacity: 160 * m)
    // 50 maps pages [0, 60): 50 allocated, [50, 60) free. 10 takes that free block whole.
    let fifty = try take(&a, 50 * m, .other)
    let ten = try take(&a, 10 * m, .other)
    // 40 maps [60, 100).
    let forty = try take(&a, 40 * m, .other)
    #expect(a.reserved == 100 * m && a.unmappedRanges(small: false) == [100 * m..<space])
    a.free(fifty)
    // 70: no free block holds it; 4 pages at the end would make 180 > 160. The release unmaps
    // the 2 whole pages of the free [0, 50) (page [40, 60) holds the live 10: [40, 50) stays
    // free and mapped): 60 mapped. [0, 40) with [40, 50) holds 50 < 70, so the end: [100, 180)
    // mapped, 140 reserved, [170, 180) free.
    _ = try take(&a, 70 * m, .other)
    #expect(a.retries == 1 && a.reserved == 140 * m && a.peakReserved == 140 * m)
    #expect(a.unmappedRanges(small: false) == [0..<40 * m, 180 * m..<space])
    #expect(a.freeBlocks(limit: 9).map(\.bytes) == [10 * m, 10 * m])
    // 20: no free block holds it; the lowest range, [0, 40), does: one page there, [0, 20).
    _ = try take(&a, 20 * m, .other)
    #expect(a.retries == 1 && a.reserved == 160 * m)
    #expect(a.unmappedRanges(small: false) == [20 * m..<40 * m, 180 * m..<space])
    // Freeing the 10 and the 40 leaves [40, 100) free. 70: [20, 40) then [40, 100) hold 80,
    // one page to map: 180 > 160. The release unmaps [40, 100), merged with [20, 40); the
    // request needs 4 pages of [20, 100) then: 100 + 80 > 160, out of memory.
    a.free(ten)
    a.free(forty)
    #expect(a.malloc(70 * m, .other) == nil)
    #expect(a.retries == 2 && a.reserved == 100 * m && a.peakReserved == 160 * m)
    #expect(a.unmappedRanges(small: false) == [20 * m..<100 * m, 180 * m..<space])
    // 50 then fits the gap: 3 pages, [20, 80), 50 allocated and [70, 80) free.
    _ = try take(&a, 50 * m, .other)
    #expect(a.retries == 2 && a.reserved == 160 * m && a.allocated == 140 * m)
    #expect(a.unmappedRanges(small: false) == [80 * m..<100 * m, 180 * m..<space])
    #expect(a.freeBlocks(limit: 9).map(\.bytes) == [10 * m, 10 * m])
  }

  /// PyTorch 2.10's `get_free_block` with expandable segments, by hand: a free block bordering
  /// an unmapped range weighs its size plus the range's (`expandable_size`), and from the
  /// smallest block that fits, the search moves to the next block by size while that one weighs
  /// less. Offsets and sizes in MiB; the large pool maps 20 MiB pages.
  @Test func expandableSegmentsPassOverAFreeTailThatCouldGrow() throws {
    try passesOverTheGrowableTail(CachingAllocator.self)
    try passesOverTheGrowableTail(ReferenceCachingAllocator.self)
  }

  func passesOverTheGrowableTail<A: AllocatorSimulation & ~Copyable>(_ type: A.Type) throws {
    let m = Self.mib
    var a = A(settings: AllocatorSettings(expandableSegments: true), capacity: nil)
    // 12 maps [0, 20): [12, 20) free. 10: no free block holds it; [12, 20) and one more page,
    // [12, 40), hold it: [12, 22) allocated, [22, 40) free. 12 takes [22, 34): [34, 40) free.
    let blocks = [12 * m, 10 * m, 12 * m].map { a.malloc($0, .other) }
    let ten = try #require(blocks[1])
    #expect(blocks.allSatisfy { $0 != nil })
    // Freed, the 10 at [12, 22) is free between two live blocks: it cannot grow.
    a.free(ten)
    // 5: the smallest free block is the tail [34, 40) (6, and the unmapped rest of the address
    // space after it); the next by size, [12, 22), weighs 10: taken, [17, 22) left free.
    let five = a.malloc(5 * m, .other)
    let (reserved, allocated, free) = (a.reserved, a.allocated, a.freeBlocks(limit: 9).map(\.bytes))
    #expect(five != nil && reserved == 40 * m && allocated == 29 * m)
    // Plain best fit would have cut the tail: 10 and 1 left free.
    #expect(free == [6 * m, 5 * m])
  }

  /// Before this model, a release unmapped only the free tail of each segment: a retry that
  /// needs pages freed in the middle of the segment failed. The small pool's first page needs
  /// 2 MiB beyond the capacity; the large pool's free 50 MiB block in front gives back its two
  /// whole pages.
  @Test func expandableSegmentsReleaseFreePagesInTheMiddle() throws {
    let m = Self.mib
    var a = CachingAllocator(settings: AllocatorSettings(expandableSegments: true), capacity: 100 * m)
    let fifty = try take(&a, 50 * m, .other)
    _ = try take(&a, 10 * m, .other)
    _ = try take(&a, 40 * m, .other)
    a.free(fifty)
    // 1 MiB: the small pool, a 2 MiB page: 102 > 100. Released [0, 40): 60, then 62.
    _ = try take(&a, Self.mib, .other)
    #expect(a.retries == 1 && a.reserved == 62 * m && a.peakReserved == 100 * m)
    #expect(a.unmappedRanges(small: true).first == 2 * m..<CachingAllocatorSimulation<SortedFreeBlockPool>.addressSpace)
  }

  @Test func roundupPowerOfTwoDivisions() {
    let a = CachingAllocator(settings: AllocatorSettings(roundupPower2Divisions: 4))
    // 1,200 MiB lies between 1,024 and 2,048 MiB, in steps of 256 MiB: 1,280 MiB.
    #expect(a.roundedSize(1_200 * Self.mib) == 1_280 * Self.mib)
    #expect(a.roundedSize(1_024 * Self.mib) == 1_024 * Self.mib)
    // At most 512 x 4 B: plain 512 B rounding.
    #expect(a.roundedSize(1_000) == 1_024)
  }

  @Test func outOfMemoryReleasesCachedSegmentsAndRetries() throws {
    var a = CachingAllocator(settings: .pytorchDefault, capacity: 40 * Self.mib)
    let twelve = try take(&a, 12 * Self.mib, .other)
    a.free(twelve)
    // 30 MiB needs a new segment: 42 MiB > 40, so the free 12 MiB segment is released first.
    _ = try take(&a, 30 * Self.mib, .other)
    #expect(a.reserved == 30 * Self.mib && a.retries == 1 && a.peakReserved == 30 * Self.mib)
    // 12 MiB more cannot fit even after the retry.
    #expect(a.malloc(12 * Self.mib, .other) == nil)
  }

  struct Sequences: Decodable {
    struct Sequence: Decodable {
      let seed: Int
      let events: [[Int64OrString]]
      let peak_allocated: Int64
      let peak_reserved: Int64
      let reserved: Int64
      let allocated: Int64
      let free_blocks: [Int64]
    }
    let sequences: [Sequence]
  }

  enum Int64OrString: Decodable {
    case number(Int64)
    case text(String)
    init(from decoder: Decoder) throws {
      let container = try decoder.singleValueContainer()
      if let number = try? container.decode(Int64.self) {
        self = .number(number)
      } else {
        self = .text(try container.decode(String.self))
      }
    }
    var number: Int64 { if case .number(let n) = self { return n } else { return -1 } }
  }

  @Test func matchesTheStudysSimulationOnRandomSequences() throws {
    let data = try TestData.calibration("allocator/allocsim-sequences.json")
    let file = try JSONDecoder().decode(Sequences.self, from: data)
    #expect(file.sequences.count == 4)
    for sequence in file.sequences {
      var a = CachingAllocator(settings: .pytorchDefault)
      var live: [Int64: Int32] = [:]
      for event in sequence.events {
        if case .text("a") = event[0] {
          live[event[1].number] = a.malloc(event[2].number, .other)
        } else if let block = live.removeValue(forKey: event[1].number) {
          a.free(block)
        }
      }
      #expect(a.peakReserved == sequence.peak_reserved, "seed \(sequence.seed)")
      #expect(a.peakAllocated == sequence.peak_allocated, "seed \(sequence.seed)")
      #expect(a.reserved == sequence.reserved && a.allocated == sequence.allocated, "seed \(sequence.seed)")
      #expect(a.freeBlocks(limit: 1_000).map(\.bytes) == sequence.free_blocks, "seed \(sequence.seed)")
    }
  }
}

@Suite struct AllocatorSettingsTests {
  @Test func readsPytorchCudaAllocConf() throws {
    let settings = try AllocatorSettings(configuration: "expandable_segments:True,max_split_size_mb:128")
    #expect(settings.expandableSegments && settings.maxSplitBytes == 128 * 1_048_576)
    #expect(settings.configuration == "expandable_segments:True,max_split_size_mb:128")
    #expect(try AllocatorSettings(configuration: "").isDefault)
  }

  @Test func refusesWhatItCannotRead() {
    #expect(throws: AllocatorSettingsError.self) { try AllocatorSettings(configuration: "expandable_segments:maybe") }
    #expect(throws: AllocatorSettingsError.self) { try AllocatorSettings(configuration: "backend:cudaMallocAsync") }
    #expect(throws: AllocatorSettingsError.self) { try AllocatorSettings(configuration: "roundup_power2_divisions:3") }
    #expect(throws: AllocatorSettingsError.self) { try AllocatorSettings(configuration: "max_split_size_mb:10") }
  }

  /// PyTorch's keys that change nothing a training step reserves (pinned host memory, locking,
  /// CUDA graphs, the native backend named) are read, shown, and leave every figure as without
  /// them; a user's environment holding one does not stop the tool.
  @Test func readsPytorchKeysWithoutEffectOnTheGPU() throws {
    let text =
      "pinned_use_cuda_host_register:True,pinned_num_register_threads:8,release_lock_on_cudamalloc:True,"
      + "backend:native,expandable_segments:True"
    let settings = try AllocatorSettings(configuration: text)
    #expect(settings.expandableSegments)
    #expect(
      settings.withoutEffect == [
        "pinned_use_cuda_host_register:True", "pinned_num_register_threads:8", "release_lock_on_cudamalloc:True",
        "backend:native",
      ])
    #expect(settings.configuration.hasSuffix("backend:native"))
    let model = try PresetCatalog.bundled.model(named: "qwen3-8b")
    let gpu = try PresetCatalog.bundled.gpu(named: "rtx-4090")
    var plain = TrainingSetup()
    plain.allocatorConfiguration = try AllocatorSettings(configuration: "expandable_segments:True")
    var withKeys = plain
    withKeys.allocatorConfiguration = settings
    let a = try MemoryEstimator.estimate(model: model, setup: plain, gpu: gpu).peak
    let b = try MemoryEstimator.estimate(model: model, setup: withKeys, gpu: gpu).peak
    #expect(a.reserved == b.reserved && a.process == b.process)
  }

  /// What it refuses, it says why: an unknown key as unknown, a value by what the key takes, a
  /// setting PyTorch reads but the simulation does not follow as not modelled; a bracketed list
  /// is one entry, its commas inside it.
  @Test func namesWhyItRefuses() {
    func problem(_ text: String) -> AllocatorSettingsError.Problem? {
      do {
        _ = try AllocatorSettings(configuration: text)
        return nil
      } catch {
        return error.problem
      }
    }
    #expect(problem("bogus:1") == .unknownKey)
    #expect(problem("pinned_num_register_threads:0") == .expected("a positive whole number"))
    guard case .notModelled = problem("backend:cudaMallocAsync") else {
      Issue.record("cudaMallocAsync")
      return
    }
    guard case .notModelled = problem("max_non_split_rounding_mb:64") else {
      Issue.record("max_non_split_rounding_mb")
      return
    }
    do {
      _ = try AllocatorSettings(configuration: "expandable_segments:True,roundup_power2_divisions:[256:1,512:2,>:8]")
      Issue.record("the list form was read")
    } catch {
      #expect(error.key == "roundup_power2_divisions" && error.value == "[256:1,512:2,>:8]")
      guard case .notModelled = error.problem else {
        Issue.record("\(error.problem)")
        return
      }
    }
  }
}

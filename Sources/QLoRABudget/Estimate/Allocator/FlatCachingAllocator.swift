/// The caching allocator estimates replay their schedules through: the rules of
/// ``CachingAllocatorSimulation`` (the oracle, documented there), over flat storage it owns.
///
/// A replay runs about 18,000 events per estimate. Written over Swift arrays of arrays, each
/// event cost about 830 instructions, nearly all of it the arrays' bookkeeping (uniqueness
/// checks, bounds checks, generic insert and remove) around a few integer operations. Here the
/// blocks are one buffer of structs indexed by `Int32`, freed slots form a list threaded
/// through `next`, and the cached free blocks are linked lists threaded through the same
/// structs (``FreeLists``): nothing is reference counted, checked for uniqueness or allocated
/// per event. `AllocatorFastPathTests` replays every preset's schedule through this and the
/// oracle and compares the reserves whole, and random sequences step by step;
/// `CachingAllocatorTests` holds the rules written out by hand.
///
/// Non-copyable: it owns its buffers and frees them when it ends.
struct FlatCachingAllocator: ~Copyable {
  private typealias Rules = CachingAllocatorSimulation<SortedFreeBlockPool>

  fileprivate struct Block {
    var size: Int64
    var address: Int64
    var previous: Int32
    /// The next block of the segment; for a slot on the free list, the next free slot.
    var next: Int32
    /// While cached free: the neighbours in its size class's list (-1: none), and the list.
    var lower: Int32 = -1
    var higher: Int32 = -1
    var list: Int32 = -1
    var allocated: Bool
    /// False for an unmapped range of an expandable segment (neither allocated nor free).
    var mapped = true
    var small: Bool
    /// The tensor that last occupied it (what left it, once free).
    var tensor: ScheduledTensor
  }

  let settings: AllocatorSettings
  /// What cudaMalloc may hand out in total (nil: unlimited).
  let capacity: Int64?
  private let expandable: Bool
  private let maxSplit: Int64
  /// `roundup_power2_divisions` when it applies (> 1), else 0.
  private let divisions: Int64
  private var blocks: UnsafeMutablePointer<Block>
  private var blockCapacity: Int
  private var blockCount: Int32 = 0
  /// The first slot of the list of slots freed by merges and released segments (-1: none).
  private var recycled: Int32 = -1
  private var pools = FreeLists()
  private var nextAddress: Int64 = 0
  /// Expandable segments: each pool's unmapped ranges, by address (`BlockPool::unmapped`); the
  /// last runs to the end of the segment's address space. Empty until the segment is made.
  private var unmappedLarge: [Int32] = []
  private var unmappedSmall: [Int32] = []
  private(set) var allocated: Int64 = 0
  private(set) var reserved: Int64 = 0
  private(set) var peakReserved: Int64 = 0
  private(set) var peakAllocated: Int64 = 0
  /// How many times a new segment would have exceeded the capacity and cached segments were
  /// released to make room.
  private(set) var retries = 0

  init(settings: AllocatorSettings, capacity: Int64? = nil) {
    // Room for the blocks of a whole run: growing the buffer from 1,024 copied it several
    // times a replay (61 M instructions of memcpy in a `fit` whose changes judge ~100 ranks).
    self.init(settings: settings, capacity: capacity, blockCapacity: 4_096)
  }

  /// With room for `blockCapacity` blocks before the buffer grows (tests grow it from a few).
  init(settings: AllocatorSettings, capacity: Int64?, blockCapacity: Int) {
    self.settings = settings
    self.capacity = capacity
    expandable = settings.expandableSegments
    maxSplit = settings.maxSplitBytes ?? Int64.max
    let divisions = settings.roundupPower2Divisions ?? 0
    self.divisions = divisions > 1 ? divisions : 0
    self.blockCapacity = blockCapacity
    blocks = .allocate(capacity: blockCapacity)
  }

  deinit {
    blocks.deallocate()
  }

  /// An allocator in the same state with storage of its own: after the same events both
  /// answer the same (a replay resumed from a shared prefix, ``ReplayPrefixes``).
  func copy() -> FlatCachingAllocator {
    var other = FlatCachingAllocator(settings: settings, capacity: capacity, blockCapacity: blockCapacity)
    other.blocks.initialize(from: blocks, count: Int(blockCount))
    other.blockCount = blockCount
    other.recycled = recycled
    other.pools.copyLists(from: pools)
    other.nextAddress = nextAddress
    other.unmappedLarge = unmappedLarge
    other.unmappedSmall = unmappedSmall
    other.allocated = allocated
    other.reserved = reserved
    other.peakReserved = peakReserved
    other.peakAllocated = peakAllocated
    other.retries = retries
    return other
  }

  /// The size a request is rounded to.
  @inline(__always)
  func roundedSize(_ bytes: Int64) -> Int64 {
    let minimum = Rules.minimumBlock
    if bytes < minimum { return minimum }
    if divisions > 1, bytes > minimum * divisions {
      if bytes & (bytes - 1) == 0 { return bytes }
      let floor = Int64(1) << (63 - bytes.leadingZeroBitCount)
      let step = floor >> (63 - divisions.leadingZeroBitCount)
      if step == 0 { return floor << 1 }
      let down = bytes & ~(step - 1)
      return down == bytes ? bytes : down + step
    }
    return minimum * ((bytes + minimum - 1) / minimum)
  }

  /// Allocates `bytes` for `tensor`; returns the block, or nil when even after releasing the
  /// cache the capacity is exceeded (an out-of-memory error).
  mutating func malloc(_ bytes: Int64, _ tensor: ScheduledTensor) -> Int32? {
    let size = roundedSize(bytes)
    let small = size <= Rules.smallSize
    var index = bestFit(small: small, size: size)
    if index < 0 {
      index = expandable ? expand(small: small, size: size) : newSegment(small: small, size: size)
      if index < 0 { return nil }
    }
    let block = blocks[Int(index)]
    let remaining = block.size - size
    let split =
      small || expandable ? remaining >= Rules.minimumBlock : size < maxSplit && remaining > Rules.smallSize
    if split {
      let rest = makeBlock(
        Block(
          size: remaining, address: block.address + size, previous: index, next: block.next, allocated: false,
          small: small, tensor: block.tensor))
      if block.next >= 0 { blocks[Int(block.next)].previous = rest }
      blocks[Int(index)].next = rest
      blocks[Int(index)].size = size
      pools.insert(rest, blocks)
    }
    blocks[Int(index)].allocated = true
    blocks[Int(index)].tensor = tensor
    allocated += blocks[Int(index)].size
    peakAllocated = max(peakAllocated, allocated)
    return index
  }

  /// Frees a block: merged with free neighbours, back into its pool.
  mutating func free(_ index: Int32) {
    precondition(index >= 0 && index < blockCount, "free of a block the allocator simulation never made")
    var block = blocks[Int(index)]
    precondition(block.allocated, "double free in the allocator simulation")
    block.allocated = false
    allocated -= block.size
    mergeWithFreeNeighbours(index, &block, namingBytes: block.size)
  }

  /// The cached free blocks, largest first, with the tensor that left each (the oracle's order:
  /// the large pool's then the small pool's blocks by size and address, sorted by size).
  func freeBlocks(limit: Int) -> [(bytes: Int64, tensor: ScheduledTensor)] {
    let all = (pools.keys(small: false, blocks) + pools.keys(small: true, blocks)).sorted { $0.size > $1.size }.prefix(
      limit)
    return all.map { ($0.size, blocks[Int($0.block)].tensor) }
  }

  /// The unmapped ranges of the pool's expandable segment, as offsets from its start, by
  /// address (the last runs to the end of its address space); none before it is made. What
  /// tests read of the mapped pages.
  func unmappedRanges(small: Bool) -> [Range<Int64>] {
    let base = Rules.segmentBase(small: small)
    return (small ? unmappedSmall : unmappedLarge).map {
      blocks[Int($0)].address - base..<blocks[Int($0)].address - base + blocks[Int($0)].size
    }
  }

  // MARK: - Blocks and pools

  /// Merges `block` (at `index`, out of its pool) with its free neighbours and puts the result
  /// into its pool. The largest piece names the merged block, each neighbour weighed against
  /// the bytes merged before it: `namingBytes` is what the block itself weighs (its size when a
  /// tensor freed it; zero for freshly mapped pages, which held none).
  @inline(__always)
  private mutating func mergeWithFreeNeighbours(_ index: Int32, _ block: inout Block, namingBytes: Int64) {
    var naming = namingBytes
    let previous = block.previous
    if previous >= 0, isFree(previous) {
      let other = blocks[Int(previous)]
      pools.remove(previous, blocks)
      block.address = other.address
      block.previous = other.previous
      if other.previous >= 0 { blocks[Int(other.previous)].next = index }
      if other.size > naming { block.tensor = other.tensor }
      naming += other.size
      block.size += other.size
      recycle(previous)
    }
    let next = block.next
    if next >= 0, isFree(next) {
      let other = blocks[Int(next)]
      pools.remove(next, blocks)
      block.next = other.next
      if other.next >= 0 { blocks[Int(other.next)].previous = index }
      if other.size > naming { block.tensor = other.tensor }
      block.size += other.size
      recycle(next)
    }
    blocks[Int(index)] = block
    pools.insert(index, blocks)
  }

  @inline(__always)
  private mutating func makeBlock(_ block: Block) -> Int32 {
    if recycled >= 0 {
      let index = recycled
      recycled = blocks[Int(index)].next
      blocks[Int(index)] = block
      return index
    }
    if Int(blockCount) == blockCapacity {
      let grown = UnsafeMutablePointer<Block>.allocate(capacity: blockCapacity * 2)
      grown.moveInitialize(from: blocks, count: blockCapacity)
      blocks.deallocate()
      blocks = grown
      blockCapacity *= 2
    }
    blocks[Int(blockCount)] = block
    blockCount += 1
    return blockCount - 1
  }

  @inline(__always)
  private mutating func recycle(_ index: Int32) {
    blocks[Int(index)].next = recycled
    recycled = index
  }

  @inline(__always)
  private mutating func bestFit(small: Bool, size: Int64) -> Int32 {
    var found = pools.smallest(atLeast: size, small: small, blocks)
    guard found >= 0 else { return -1 }
    if expandable {
      // A block bordering an unmapped range weighs what it could grow to (the oracle's rule).
      var weight = expandableWeight(found)
      while true {
        let next = pools.successor(of: found, blocks)
        guard next >= 0 else { break }
        let nextWeight = expandableWeight(next)
        guard nextWeight < weight else { break }
        (found, weight) = (next, nextWeight)
      }
    }
    let candidate = blocks[Int(found)].size
    if size < maxSplit && candidate >= maxSplit { return -1 }
    if size >= maxSplit && candidate >= size + Rules.largeBuffer { return -1 }
    pools.remove(found, blocks)
    return found
  }

  /// A free block's size plus the unmapped range right after it, if any (`expandable_size`).
  @inline(__always)
  private func expandableWeight(_ index: Int32) -> Int64 {
    let next = blocks[Int(index)].next
    return blocks[Int(index)].size + (next >= 0 && !blocks[Int(next)].mapped ? blocks[Int(next)].size : 0)
  }

  /// Free and mapped: what a freed neighbour merges with.
  @inline(__always)
  private func isFree(_ index: Int32) -> Bool {
    !blocks[Int(index)].allocated && blocks[Int(index)].mapped
  }

  // MARK: - Segments

  /// Makes room for `bytes` more reserved bytes within the capacity, releasing cached segments
  /// if it must; false when even that is not enough.
  private mutating func makeRoom(_ bytes: Int64) -> Bool {
    guard let capacity, reserved + bytes > capacity else { return true }
    retries += 1
    releaseCache()
    return reserved + bytes <= capacity
  }

  /// `release_cached_blocks`: every free block that is a whole segment goes back to the driver;
  /// with expandable segments, every free block unmaps the whole pages inside it.
  private mutating func releaseCache() {
    for key in pools.keys(small: false, blocks) + pools.keys(small: true, blocks) {
      if expandable {
        unmapPages(of: key.block)
      } else if blocks[Int(key.block)].previous < 0 && blocks[Int(key.block)].next < 0 {
        pools.remove(key.block, blocks)
        reserved -= key.size
        recycle(key.block)
      }
    }
  }

  private mutating func newSegment(small: Bool, size: Int64) -> Int32 {
    let bytes = Rules.segmentSize(size)
    guard makeRoom(bytes) else { return -1 }
    let index = makeBlock(
      Block(size: bytes, address: nextAddress, previous: -1, next: -1, allocated: false, small: small, tensor: .other))
    // Segments never touch: nothing merges across them.
    nextAddress += bytes + Rules.roundLarge
    grow(by: bytes)
    return index
  }

  // MARK: - Expandable segments

  /// `try_allocate_expandable_block`: maps pages of the pool's expandable segment so that a
  /// free block holds `size`, releasing the cache first if the pages would pass the capacity.
  private mutating func expand(small: Bool, size: Int64) -> Int32 {
    var found = expansion(small: small, size: size)
    if let capacity, reserved + found.bytes > capacity {
      retries += 1
      releaseCache()
      // Released pages are unmapped ranges now: the request may go lower.
      found = expansion(small: small, size: size)
      guard reserved + found.bytes <= capacity else { return -1 }
    }
    var block = found.start
    if !blocks[Int(block)].mapped { block = mapPages(of: block, min(blocks[Int(block)].size, size)) }
    while blocks[Int(block)].size < size {
      let range = blocks[Int(block)].next
      block = mapPages(of: range, min(size - blocks[Int(block)].size, blocks[Int(range)].size))
    }
    pools.remove(block, blocks)
    return block
  }

  /// `find_expandable_block`: the block the request is mapped from, the lowest-address unmapped
  /// range (or the free block just before it) where free blocks and unmapped ranges in a row
  /// hold `size`; and the bytes `try_allocate_expandable_block` maps from there.
  private mutating func expansion(small: Bool, size: Int64) -> (start: Int32, bytes: Int64) {
    if (small ? unmappedSmall : unmappedLarge).isEmpty {
      let index = makeBlock(
        Block(
          size: Rules.addressSpace, address: Rules.segmentBase(small: small), previous: -1, next: -1,
          allocated: false, mapped: false, small: small, tensor: .other))
      if small { unmappedSmall = [index] } else { unmappedLarge = [index] }
    }
    let page = Rules.page(small: small)
    for range in small ? unmappedSmall : unmappedLarge {
      let previous = blocks[Int(range)].previous
      let start = previous >= 0 && isFree(previous) ? previous : range
      var room: Int64 = 0
      var block = start
      while room < size && block >= 0 && !blocks[Int(block)].allocated {
        room += blocks[Int(block)].size
        block = blocks[Int(block)].next
      }
      guard room >= size else { continue }
      // What `map_block` maps on the way: whole pages, a whole range then its free neighbour.
      var bytes: Int64 = 0
      var held: Int64 = 0
      block = start
      while held < size {
        let current = blocks[Int(block)]
        if current.mapped {
          held += current.size
        } else {
          let pages = page * ((min(current.size, size - held) + page - 1) / page)
          bytes += pages
          held += pages
        }
        block = current.next
      }
      return (start, bytes)
    }
    preconditionFailure("an expandable segment's last range runs to the end of its address space")
  }

  /// `map_block`: maps the pages holding the first `bytes` of an unmapped range (the rest stays
  /// unmapped) and merges them with their free neighbours into a free block, returned.
  private mutating func mapPages(of range: Int32, _ bytes: Int64) -> Int32 {
    let whole = blocks[Int(range)]
    let page = Rules.page(small: whole.small)
    let mapped = page * ((bytes + page - 1) / page)
    var index = range
    if mapped < whole.size {
      // The unmapped rest keeps the range's slot and its place among the unmapped ranges.
      index = makeBlock(
        Block(
          size: mapped, address: whole.address, previous: whole.previous, next: range, allocated: false,
          small: whole.small, tensor: .other))
      if whole.previous >= 0 { blocks[Int(whole.previous)].next = index }
      blocks[Int(range)].previous = index
      blocks[Int(range)].address += mapped
      blocks[Int(range)].size -= mapped
    } else {
      blocks[Int(range)].mapped = true
      blocks[Int(range)].tensor = .other
      if whole.small { unmappedSmall.removeAll { $0 == range } } else { unmappedLarge.removeAll { $0 == range } }
    }
    grow(by: mapped)
    var block = blocks[Int(index)]
    // Fresh pages held no tensor: a free neighbour names the block (the larger, if two).
    mergeWithFreeNeighbours(index, &block, namingBytes: 0)
    return index
  }

  /// `unmap_block`: unmaps the whole pages inside a free block of an expandable segment; the
  /// parts of pages it shares with other blocks stay mapped, as free blocks.
  private mutating func unmapPages(of index: Int32) {
    let block = blocks[Int(index)]
    let base = Rules.segmentBase(small: block.small)
    let page = Rules.page(small: block.small)
    let begin = base + page * ((block.address - base + page - 1) / page)
    let end = base + page * ((block.address + block.size - base) / page)
    guard begin < end else { return }
    pools.remove(index, blocks)
    var range = block
    if begin > block.address {
      let before = makeBlock(
        Block(
          size: begin - block.address, address: block.address, previous: block.previous, next: index,
          allocated: false, small: block.small, tensor: block.tensor))
      if block.previous >= 0 { blocks[Int(block.previous)].next = before }
      range.previous = before
      pools.insert(before, blocks)
    }
    if end < block.address + block.size {
      let after = makeBlock(
        Block(
          size: block.address + block.size - end, address: end, previous: index, next: block.next,
          allocated: false, small: block.small, tensor: block.tensor))
      if block.next >= 0 { blocks[Int(block.next)].previous = after }
      range.next = after
      pools.insert(after, blocks)
    }
    (range.address, range.size, range.mapped, range.tensor) = (begin, end - begin, false, .other)
    reserved -= end - begin
    // Merged with unmapped neighbours, in the pool's unmapped ranges by address.
    var ranges = block.small ? unmappedSmall : unmappedLarge
    let previous = range.previous
    if previous >= 0, !blocks[Int(previous)].mapped {
      let other = blocks[Int(previous)]
      range.address = other.address
      range.previous = other.previous
      if other.previous >= 0 { blocks[Int(other.previous)].next = index }
      range.size += other.size
      ranges.removeAll { $0 == previous }
      recycle(previous)
    }
    let next = range.next
    if next >= 0, !blocks[Int(next)].mapped {
      let other = blocks[Int(next)]
      range.next = other.next
      if other.next >= 0 { blocks[Int(other.next)].previous = index }
      range.size += other.size
      ranges.removeAll { $0 == next }
      recycle(next)
    }
    blocks[Int(index)] = range
    ranges.insert(index, at: ranges.firstIndex { blocks[Int($0)].address > range.address } ?? ranges.count)
    if block.small { unmappedSmall = ranges } else { unmappedLarge = ranges }
  }

  @inline(__always)
  private mutating func grow(by bytes: Int64) {
    reserved += bytes
    peakReserved = max(peakReserved, reserved)
  }
}

/// The cached free blocks of both pools of ``FlatCachingAllocator``, in the size classes of
/// the pool it replaced: a power of two cut into 16 (sizes below 16 B a class each), so
/// classes keep the size order and a class spans sizes within 1/16 of each other. Each class
/// is a doubly linked list, by size then address, threaded through the blocks themselves
/// (`lower`, `higher`), with its ends kept per class, and a bitmap names the classes that hold
/// any. Removing a block unlinks it. Inserting one, and best-fit within a class, walk the list
/// from both ends at once, so they cost the shorter side: most classes hold zero or one block,
/// but a few hold a hundred blocks of one size, where best-fit takes the lowest address (the
/// front) and a freed block mostly lands at one end (Qwen3-14B's replay: 14,717 of 16,291
/// insertions at an end of their class, 96% of removals at the front). Best-fit outside the
/// request's class takes the first block of the next occupied class.
private struct FreeLists: ~Copyable {
  typealias Block = FlatCachingAllocator.Block

  private static let subdivisionBits = 4
  /// Classes per pool; the large pool's lists come first, then the small pool's.
  private static let classCount = 64 << subdivisionBits
  private static let words = classCount / 64

  /// Per list: its lowest and highest block (-1: empty).
  private let heads: UnsafeMutablePointer<Int32>
  private let tails: UnsafeMutablePointer<Int32>
  /// Bit `l % 64` of word `l / 64` is set when list `l` holds a block.
  private let occupied: UnsafeMutablePointer<UInt64>

  init() {
    heads = .allocate(capacity: 4 * Self.classCount)
    heads.initialize(repeating: -1, count: 4 * Self.classCount)
    tails = heads + 2 * Self.classCount
    occupied = .allocate(capacity: 2 * Self.words)
    occupied.initialize(repeating: 0, count: 2 * Self.words)
  }

  deinit {
    heads.deallocate()
    occupied.deallocate()
  }

  /// Takes the lists of `other` (their blocks copied at the same indices).
  mutating func copyLists(from other: borrowing FreeLists) {
    heads.update(from: other.heads, count: 4 * Self.classCount)
    occupied.update(from: other.occupied, count: 2 * Self.words)
  }

  /// The list of blocks of `size` (> 0) in the small or the large pool: classes grow with sizes.
  @inline(__always)
  private static func list(_ size: Int64, small: Bool) -> Int {
    let bits = Int64(1) << subdivisionBits
    let offset = small ? classCount : 0
    guard size >= bits else { return offset + Int(max(size, 0)) }
    let exponent = 63 - size.leadingZeroBitCount
    return offset + (exponent << subdivisionBits | Int((size >> (exponent - subdivisionBits)) & (bits - 1)))
  }

  /// Whether `a` comes before `b`: by size, then address.
  @inline(__always)
  private static func isBelow(_ a: Block, _ b: Block) -> Bool {
    a.size != b.size ? a.size < b.size : a.address < b.address
  }

  /// Links block `x` (free, its size and address final) into its list.
  @inline(__always)
  mutating func insert(_ x: Int32, _ blocks: UnsafeMutablePointer<Block>) {
    let block = blocks[Int(x)]
    let l = Self.list(block.size, small: block.small)
    blocks[Int(x)].list = Int32(l)
    var front = heads[l]
    guard front >= 0 else {
      heads[l] = x
      tails[l] = x
      blocks[Int(x)].lower = -1
      blocks[Int(x)].higher = -1
      occupied[l >> 6] |= 1 << UInt64(l & 63)
      return
    }
    // Everything before `front` is below the block and nothing after `back` is: the first
    // end to meet the block's place decides.
    var back = tails[l]
    while true {
      if !Self.isBelow(blocks[Int(front)], block) {
        let lower = blocks[Int(front)].lower
        blocks[Int(x)].lower = lower
        blocks[Int(x)].higher = front
        blocks[Int(front)].lower = x
        if lower >= 0 { blocks[Int(lower)].higher = x } else { heads[l] = x }
        return
      }
      if Self.isBelow(blocks[Int(back)], block) {
        let higher = blocks[Int(back)].higher
        blocks[Int(x)].higher = higher
        blocks[Int(x)].lower = back
        blocks[Int(back)].higher = x
        if higher >= 0 { blocks[Int(higher)].lower = x } else { tails[l] = x }
        return
      }
      front = blocks[Int(front)].higher
      back = blocks[Int(back)].lower
    }
  }

  /// Unlinks block `x`, which its list holds.
  @inline(__always)
  mutating func remove(_ x: Int32, _ blocks: UnsafeMutablePointer<Block>) {
    let block = blocks[Int(x)]
    let (lower, higher) = (block.lower, block.higher)
    if lower >= 0 { blocks[Int(lower)].higher = higher }
    if higher >= 0 { blocks[Int(higher)].lower = lower }
    guard lower < 0 || higher < 0 else { return }
    let l = Int(block.list)
    precondition(lower >= 0 || heads[l] == x, "a free block missing from its list")
    if lower < 0 { heads[l] = higher }
    if higher < 0 { tails[l] = lower }
    if heads[l] < 0 { occupied[l >> 6] &= ~(1 << UInt64(l & 63)) }
  }

  /// The smallest block of at least `size` bytes in the small or the large pool, the lowest
  /// address among equals; -1 when there is none.
  @inline(__always)
  func smallest(atLeast size: Int64, small: Bool, _ blocks: UnsafeMutablePointer<Block>) -> Int32 {
    let l = Self.list(size, small: small)
    let tail = tails[l]
    if tail >= 0 && blocks[Int(tail)].size >= size {
      // The first block of at least `size`: everything before `front` is smaller, `back` is
      // large enough; the first end to meet the boundary decides.
      var front = heads[l]
      var back = tail
      while true {
        if blocks[Int(front)].size >= size { return front }
        let lower = blocks[Int(back)].lower
        if blocks[Int(lower)].size < size { return back }
        front = blocks[Int(front)].higher
        back = lower
      }
    }
    return firstBlock(above: l, small: small)
  }

  /// The block after `x` (which a list holds), by size then address, in its pool; -1 when
  /// it is the pool's largest.
  @inline(__always)
  func successor(of x: Int32, _ blocks: UnsafeMutablePointer<Block>) -> Int32 {
    let block = blocks[Int(x)]
    return block.higher >= 0 ? block.higher : firstBlock(above: Int(block.list), small: block.small)
  }

  /// The first block of the first occupied list above list `l`, in the same pool; -1: none.
  @inline(__always)
  private func firstBlock(above l: Int, small: Bool) -> Int32 {
    let end = small ? 2 * Self.words : Self.words
    let above = l + 1
    var word = above >> 6
    guard word < end else { return -1 }
    var bits = occupied[word] & (~0 << UInt64(above & 63))
    while bits == 0 {
      word += 1
      guard word < end else { return -1 }
      bits = occupied[word]
    }
    return heads[word << 6 | bits.trailingZeroBitCount]
  }

  /// Every block of the small or the large pool, ascending by size then address.
  func keys(small: Bool, _ blocks: UnsafeMutablePointer<Block>) -> [FreeBlockKey] {
    var keys: [FreeBlockKey] = []
    let offset = small ? Self.classCount : 0
    for l in offset..<offset + Self.classCount {
      var x = heads[l]
      while x >= 0 {
        keys.append(FreeBlockKey(size: blocks[Int(x)].size, address: blocks[Int(x)].address, block: x))
        x = blocks[Int(x)].higher
      }
    }
    return keys
  }
}

/// PyTorch's CUDA caching allocator (`c10/cuda/CUDACachingAllocator.cpp`, PyTorch 2.10, native
/// backend, one stream), simulated over sizes only:
///
/// - a request is rounded up to a multiple of 512 B (`round_size`; with
///   `roundup_power2_divisions`, to the next of that many steps between powers of two);
/// - up to 1 MiB it comes from the small pool, above from the large pool;
/// - reuse: the smallest cached free block of the same pool that is large enough (ties: the
///   lowest address); with `max_split_size`, an oversize block never serves a request below
///   it, and serves a larger one only within 20 MiB (`get_free_block`); with expandable
///   segments, a free block bordering an unmapped range weighs its size plus the range's, and
///   from the smallest fitting block the search moves on to the next (by size, then address)
///   while the next weighs less (`get_free_block`'s `expandable_size`): a segment's free tail,
///   which could grow, is passed over for a larger block that cannot;
/// - otherwise a new segment (`get_allocation_size`): 2 MiB for a small request, 20 MiB for a
///   request under 10 MiB, else the request rounded up to 2 MiB;
/// - the rest of a block is split off when it is >= 512 B (small pool, or expandable
///   segments) or > 1 MiB (large pool, and the request below `max_split_size`); otherwise the
///   whole block is handed out and counted as allocated (`should_split`);
/// - a free merges with free neighbours of its segment; segments are never given back except
///   when a new one would exceed the capacity: then every fully free segment is released and
///   the request retried (`release_cached_blocks`), and with `max_split_size` oversize free
///   blocks first (`release_available_cached_blocks`);
/// - expandable segments (`ExpandableSegment`): one segment per pool, an address range mapped
///   in pages (`segment_size_`: 2 MiB for the small pool, `kSmallBuffer`; 20 MiB for the large
///   one, `kLargeBuffer`; `find_expandable_block`). Its blocks are allocated, free (mapped) or
///   unmapped ranges (`Block::mapped`), every unmapped range whole pages; a freed block merges
///   with free neighbours only (`try_merge_blocks` refuses a mapped and an unmapped block);
/// - when no free block fits (`try_allocate_expandable_block`), the request goes to the
///   lowest-address unmapped range that holds it with the free block just before it and the
///   free and unmapped blocks after it (`find_expandable_block`, over the pool's unmapped ranges
///   by address): starting there, pages are mapped (`map_block`, rounded up to whole pages) for
///   min(range, request), then, while the block is short, for what is missing from the next
///   unmapped range; each mapped run merges with its free neighbours. The segment's last range
///   runs to the end of its address space, so it grows at its end when no earlier gap holds the
///   request;
/// - out of memory with expandable segments (`release_cached_blocks` -> `release_blocks` ->
///   `unmap_block`): every free block unmaps the whole pages inside it
///   (`ExpandableSegment::unmap`: from its start rounded up to a page to its end rounded down);
///   the parts of pages shared with allocated blocks stay mapped, as free blocks; the unmapped
///   range merges with unmapped neighbours. Then the request is retried.
///
/// Two simplifications that change no byte count: the address space is taken as unbounded
/// (PyTorch reserves 1 1/8 of the GPU's memory and opens another segment past it), and a
/// mapping is checked against the capacity whole before any page is mapped (PyTorch maps page by
/// page and stops at the first that fails, but the release before the retry unmaps those
/// pages again, being free).
///
/// Written straightforwardly, over Swift arrays and a pool of sorted keys
/// (``ReferenceCachingAllocator``): the oracle. ``CachingAllocator``, the one estimates use,
/// states the same rules over flat storage (``FlatCachingAllocator``) and is tested against it.
struct CachingAllocatorSimulation<Pool: FreeBlockPool> {
  static var minimumBlock: Int64 { 512 }
  static var smallSize: Int64 { 1 << 20 }
  static var smallBuffer: Int64 { 2 << 20 }
  static var largeBuffer: Int64 { 20 << 20 }
  static var minimumLargeAllocation: Int64 { 10 << 20 }
  static var roundLarge: Int64 { 2 << 20 }
  /// An expandable segment's address space: never exhausted (64 TiB).
  static var addressSpace: Int64 { 1 << 46 }

  /// The page an expandable segment of the pool maps (`segment_size_`).
  static func page(small: Bool) -> Int64 { small ? smallBuffer : largeBuffer }
  /// Where the pool's expandable segment begins (apart from each other and from segments).
  static func segmentBase(small: Bool) -> Int64 { small ? 1 << 48 : 1 << 50 }

  private struct Block {
    var size: Int64
    var address: Int64
    var previous: Int32
    var next: Int32
    var allocated: Bool
    /// False for an unmapped range of an expandable segment (neither allocated nor free).
    var mapped = true
    let small: Bool
    /// The tensor that last occupied it (what left it, once free).
    var tensor: ScheduledTensor
  }

  let settings: AllocatorSettings
  /// What cudaMalloc may hand out in total (nil: unlimited).
  let capacity: Int64?
  private var blocks: [Block] = []
  private var recycled: [Int32] = []
  private var smallPool = Pool()
  private var largePool = Pool()
  private var nextAddress: Int64 = 0
  /// Expandable segments: each pool's unmapped ranges, by address (`BlockPool::unmapped`); the
  /// last runs to the end of the segment's address space. Empty until the segment is made.
  private var unmapped: [Bool: [Int32]] = [:]
  private(set) var allocated: Int64 = 0
  private(set) var reserved: Int64 = 0
  private(set) var peakReserved: Int64 = 0
  private(set) var peakAllocated: Int64 = 0
  /// How many times a new segment would have exceeded the capacity and cached segments were
  /// released to make room.
  private(set) var retries = 0

  init(settings: AllocatorSettings, capacity: Int64? = nil) {
    self.settings = settings
    self.capacity = capacity
  }

  /// The size a request is rounded to.
  func roundedSize(_ bytes: Int64) -> Int64 {
    let minimum = Self.minimumBlock
    if bytes < minimum { return minimum }
    if let divisions = settings.roundupPower2Divisions, divisions > 1, bytes > minimum * divisions {
      if bytes & (bytes - 1) == 0 { return bytes }
      let floor = Int64(1) << (63 - bytes.leadingZeroBitCount)
      let step = floor >> (63 - divisions.leadingZeroBitCount)
      if step == 0 { return floor << 1 }
      let down = bytes & ~(step - 1)
      return down == bytes ? bytes : down + step
    }
    return minimum * ((bytes + minimum - 1) / minimum)
  }

  static func segmentSize(_ size: Int64) -> Int64 {
    if size <= smallSize { return smallBuffer }
    if size < minimumLargeAllocation { return largeBuffer }
    return roundLarge * ((size + roundLarge - 1) / roundLarge)
  }

  private var maxSplit: Int64 { settings.maxSplitBytes ?? Int64.max }

  /// Allocates `bytes` for `tensor`; returns the block, or nil when even after releasing the
  /// cache the capacity is exceeded (an out-of-memory error).
  mutating func malloc(_ bytes: Int64, _ tensor: ScheduledTensor) -> Int32? {
    let size = roundedSize(bytes)
    let small = size <= Self.smallSize
    var found = bestFit(small: small, size: size)
    if found == nil {
      found = settings.expandableSegments ? expand(small: small, size: size) : newSegment(small: small, size: size)
    }
    guard let index = found else { return nil }
    let remaining = blocks[Int(index)].size - size
    let split =
      small || settings.expandableSegments
      ? remaining >= Self.minimumBlock : size < maxSplit && remaining > Self.smallSize
    if split {
      let block = blocks[Int(index)]
      let rest = makeBlock(
        Block(
          size: remaining, address: block.address + size, previous: index, next: block.next,
          allocated: false, small: small, tensor: block.tensor))
      if block.next >= 0 { blocks[Int(block.next)].previous = rest }
      blocks[Int(index)].next = rest
      blocks[Int(index)].size = size
      insert(rest)
    }
    blocks[Int(index)].allocated = true
    blocks[Int(index)].tensor = tensor
    allocated += blocks[Int(index)].size
    peakAllocated = max(peakAllocated, allocated)
    return index
  }

  /// Frees a block: merged with free neighbours, back into its pool.
  mutating func free(_ index: Int32) {
    var block = blocks[Int(index)]
    precondition(block.allocated, "double free in the allocator simulation")
    block.allocated = false
    allocated -= block.size
    // Two neighbours, without an array per free (frees run by the thousand per estimate).
    for side in 0..<2 {
      let neighbour = side == 0 ? block.previous : block.next
      guard neighbour >= 0, isFree(neighbour) else { continue }
      let other = blocks[Int(neighbour)]
      remove(neighbour)
      link(neighbour, into: &block, index: index)
      // The larger piece names the merged block.
      if other.size > block.size { block.tensor = other.tensor }
      block.size += other.size
      recycled.append(neighbour)
    }
    blocks[Int(index)] = block
    insert(index)
  }

  /// The cached free blocks, largest first, with the tensor that left each.
  func freeBlocks(limit: Int) -> [(bytes: Int64, tensor: ScheduledTensor)] {
    let all = (largePool.keys + smallPool.keys).sorted { $0.size > $1.size }.prefix(limit)
    return all.map { ($0.size, blocks[Int($0.block)].tensor) }
  }

  /// The unmapped ranges of the pool's expandable segment, as offsets from its start, by
  /// address (the last runs to the end of its address space); none before it is made. What
  /// tests read of the mapped pages.
  func unmappedRanges(small: Bool) -> [Range<Int64>] {
    let base = Self.segmentBase(small: small)
    return (unmapped[small] ?? []).map {
      blocks[Int($0)].address - base..<blocks[Int($0)].address - base + blocks[Int($0)].size
    }
  }

  // MARK: - Pools

  private mutating func makeBlock(_ block: Block) -> Int32 {
    if let index = recycled.popLast() {
      blocks[Int(index)] = block
      return index
    }
    blocks.append(block)
    return Int32(blocks.count - 1)
  }

  /// Free and mapped: what a freed neighbour merges with.
  private func isFree(_ index: Int32) -> Bool {
    !blocks[Int(index)].allocated && blocks[Int(index)].mapped
  }

  /// Takes the place of `neighbour`, a neighbour of `block` (at `index`) merged into it, in the
  /// segment's list of blocks.
  private mutating func link(_ neighbour: Int32, into block: inout Block, index: Int32) {
    let other = blocks[Int(neighbour)]
    if neighbour == block.previous {
      block.address = other.address
      block.previous = other.previous
      if other.previous >= 0 { blocks[Int(other.previous)].next = index }
    } else {
      block.next = other.next
      if other.next >= 0 { blocks[Int(other.next)].previous = index }
    }
  }

  private func key(_ index: Int32) -> FreeBlockKey {
    let block = blocks[Int(index)]
    return FreeBlockKey(size: block.size, address: block.address, block: index)
  }

  private mutating func insert(_ index: Int32) {
    if blocks[Int(index)].small { smallPool.insert(key(index)) } else { largePool.insert(key(index)) }
  }

  private mutating func remove(_ index: Int32) {
    if blocks[Int(index)].small { smallPool.remove(key(index)) } else { largePool.remove(key(index)) }
  }

  private mutating func bestFit(small: Bool, size: Int64) -> Int32? {
    guard var candidate = small ? smallPool.smallest(atLeast: size) : largePool.smallest(atLeast: size) else {
      return nil
    }
    if settings.expandableSegments {
      // A block bordering an unmapped range weighs what it could grow to.
      func weight(_ key: FreeBlockKey) -> Int64 {
        let next = blocks[Int(key.block)].next
        return key.size + (next >= 0 && !blocks[Int(next)].mapped ? blocks[Int(next)].size : 0)
      }
      while let next = small ? smallPool.successor(of: candidate) : largePool.successor(of: candidate),
        weight(next) < weight(candidate)
      {
        candidate = next
      }
    }
    if size < maxSplit && candidate.size >= maxSplit { return nil }
    if size >= maxSplit && candidate.size >= size + Self.largeBuffer { return nil }
    remove(candidate.block)
    return candidate.block
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
    for key in largePool.keys + smallPool.keys {
      if settings.expandableSegments {
        unmapPages(of: key.block)
      } else if blocks[Int(key.block)].previous < 0 && blocks[Int(key.block)].next < 0 {
        remove(key.block)
        reserved -= key.size
        recycled.append(key.block)
      }
    }
  }

  private mutating func newSegment(small: Bool, size: Int64) -> Int32? {
    let bytes = Self.segmentSize(size)
    guard makeRoom(bytes) else { return nil }
    let index = makeBlock(
      Block(
        size: bytes, address: nextAddress, previous: -1, next: -1, allocated: false, small: small,
        tensor: .other))
    // Segments never touch: nothing merges across them.
    nextAddress += bytes + Self.roundLarge
    grow(by: bytes)
    return index
  }

  // MARK: - Expandable segments

  /// `try_allocate_expandable_block`: maps pages of the pool's expandable segment so that a
  /// free block holds `size`, releasing the cache first if the pages would pass the capacity.
  private mutating func expand(small: Bool, size: Int64) -> Int32? {
    var found = expansion(small: small, size: size)
    if let capacity, reserved + found.bytes > capacity {
      retries += 1
      releaseCache()
      // Released pages are unmapped ranges now: the request may go lower.
      found = expansion(small: small, size: size)
      guard reserved + found.bytes <= capacity else { return nil }
    }
    var block = found.start
    if !blocks[Int(block)].mapped { block = mapPages(of: block, min(blocks[Int(block)].size, size)) }
    while blocks[Int(block)].size < size {
      let range = blocks[Int(block)].next
      block = mapPages(of: range, min(size - blocks[Int(block)].size, blocks[Int(range)].size))
    }
    remove(block)
    return block
  }

  /// `find_expandable_block`: the block the request is mapped from, the lowest-address unmapped
  /// range (or the free block just before it) where free blocks and unmapped ranges in a row
  /// hold `size`; and the bytes `try_allocate_expandable_block` maps from there.
  private mutating func expansion(small: Bool, size: Int64) -> (start: Int32, bytes: Int64) {
    if unmapped[small, default: []].isEmpty {
      let index = makeBlock(
        Block(
          size: Self.addressSpace, address: Self.segmentBase(small: small), previous: -1, next: -1,
          allocated: false, mapped: false, small: small, tensor: .other))
      unmapped[small] = [index]
    }
    let page = Self.page(small: small)
    for range in unmapped[small]! {
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
    let page = Self.page(small: whole.small)
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
      unmapped[whole.small]!.removeAll { $0 == range }
    }
    grow(by: mapped)
    var block = blocks[Int(index)]
    // Fresh pages held no tensor: a free neighbour names the block (the larger, if two).
    var naming: Int64 = 0
    for neighbour in [block.previous, block.next] where neighbour >= 0 && isFree(neighbour) {
      let other = blocks[Int(neighbour)]
      remove(neighbour)
      link(neighbour, into: &block, index: index)
      if other.size > naming { (block.tensor, naming) = (other.tensor, other.size) }
      block.size += other.size
      recycled.append(neighbour)
    }
    blocks[Int(index)] = block
    insert(index)
    return index
  }

  /// `unmap_block`: unmaps the whole pages inside a free block of an expandable segment; the
  /// parts of pages it shares with other blocks stay mapped, as free blocks.
  private mutating func unmapPages(of index: Int32) {
    let block = blocks[Int(index)]
    let base = Self.segmentBase(small: block.small)
    let page = Self.page(small: block.small)
    let begin = base + page * ((block.address - base + page - 1) / page)
    let end = base + page * ((block.address + block.size - base) / page)
    guard begin < end else { return }
    remove(index)
    var range = block
    if begin > block.address {
      let before = makeBlock(
        Block(
          size: begin - block.address, address: block.address, previous: block.previous, next: index,
          allocated: false, small: block.small, tensor: block.tensor))
      if block.previous >= 0 { blocks[Int(block.previous)].next = before }
      range.previous = before
      insert(before)
    }
    if end < block.address + block.size {
      let after = makeBlock(
        Block(
          size: block.address + block.size - end, address: end, previous: index, next: block.next,
          allocated: false, small: block.small, tensor: block.tensor))
      if block.next >= 0 { blocks[Int(block.next)].previous = after }
      range.next = after
      insert(after)
    }
    (range.address, range.size, range.mapped, range.tensor) = (begin, end - begin, false, .other)
    reserved -= end - begin
    // Merged with unmapped neighbours, in the pool's unmapped ranges by address.
    for neighbour in [range.previous, range.next] where neighbour >= 0 && !blocks[Int(neighbour)].mapped {
      link(neighbour, into: &range, index: index)
      range.size += blocks[Int(neighbour)].size
      unmapped[block.small]!.removeAll { $0 == neighbour }
      recycled.append(neighbour)
    }
    blocks[Int(index)] = range
    var ranges = unmapped[block.small, default: []]
    ranges.insert(index, at: ranges.firstIndex { blocks[Int($0)].address > range.address } ?? ranges.count)
    unmapped[block.small] = ranges
  }

  private mutating func grow(by bytes: Int64) {
    reserved += bytes
    peakReserved = max(peakReserved, reserved)
  }
}

/// The allocator estimates use.
typealias CachingAllocator = FlatCachingAllocator
/// The same rules over the straightforward pool: the oracle of the fast one.
typealias ReferenceCachingAllocator = CachingAllocatorSimulation<SortedFreeBlockPool>

/// What a replay of a schedule asks of an allocator simulation: the fast one estimates use and
/// the oracle it is tested against answer the same. Its metatype is sendable: a reserve's
/// deferred figures replay through the allocator that made it.
protocol AllocatorSimulation: ~Copyable, SendableMetatype {
  init(settings: AllocatorSettings, capacity: Int64?)
  /// The block allocated, or nil on an out-of-memory error.
  mutating func malloc(_ bytes: Int64, _ tensor: ScheduledTensor) -> Int32?
  mutating func free(_ index: Int32)
  var allocated: Int64 { get }
  var reserved: Int64 { get }
  var peakReserved: Int64 { get }
  /// The cached free blocks, largest first, with the tensor that left each.
  func freeBlocks(limit: Int) -> [(bytes: Int64, tensor: ScheduledTensor)]
  /// An allocator in the same state that shares nothing with this one.
  func copy() -> Self
}

extension CachingAllocatorSimulation: AllocatorSimulation {
  /// A value: the copy is the value.
  func copy() -> Self { self }
}
extension FlatCachingAllocator: AllocatorSimulation {}

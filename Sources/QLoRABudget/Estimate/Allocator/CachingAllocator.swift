/// PyTorch's CUDA caching allocator (`c10/cuda/CUDACachingAllocator.cpp`, PyTorch 2.10, native
/// backend, one stream), simulated over sizes only:
///
/// - a request is rounded up to a multiple of 512 B (`round_size`; with
///   `roundup_power2_divisions`, to the next of that many steps between powers of two);
/// - up to 1 MiB it comes from the small pool, above from the large pool;
/// - reuse: the smallest cached free block of the same pool that is large enough (ties: the
///   lowest address); with `max_split_size`, an oversize block never serves a request below
///   it, and serves a larger one only within 20 MiB (`get_free_block`);
/// - otherwise a new segment (`get_allocation_size`): 2 MiB for a small request, 20 MiB for a
///   request under 10 MiB, else the request rounded up to 2 MiB;
/// - the rest of a block is split off when it is >= 512 B (small pool, or expandable
///   segments) or > 1 MiB (large pool, and the request below `max_split_size`); otherwise the
///   whole block is handed out and counted as allocated (`should_split`);
/// - a free merges with free neighbours of its segment; segments are never given back except
///   when a new one would exceed the capacity: then every fully free segment is released and
///   the request retried (`release_cached_blocks`), and with `max_split_size` oversize free
///   blocks first (`release_available_cached_blocks`);
/// - expandable segments: one segment per pool that grows at its end by 2 MiB (small) or
///   20 MiB (large) pages (`ExpandableSegment`), extending a free block at its end.
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

  private struct Block {
    var size: Int64
    var address: Int64
    var previous: Int32
    var next: Int32
    var allocated: Bool
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
  /// Expandable segments: the last block of each pool's segment and the segment's end.
  private var expandableTail: [Bool: (block: Int32, end: Int64)] = [:]
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
      if settings.expandableSegments, let tail = expandableTail[small], tail.block == index {
        expandableTail[small] = (rest, tail.end)
      }
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
      guard neighbour >= 0, !blocks[Int(neighbour)].allocated else { continue }
      let other = blocks[Int(neighbour)]
      remove(neighbour)
      if side == 0 {
        block.address = other.address
        block.previous = other.previous
        if other.previous >= 0 { blocks[Int(other.previous)].next = index }
      } else {
        block.next = other.next
        if other.next >= 0 { blocks[Int(other.next)].previous = index }
        if settings.expandableSegments, let tail = expandableTail[block.small], tail.block == neighbour {
          expandableTail[block.small] = (index, tail.end)
        }
      }
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

  // MARK: - Pools

  private mutating func makeBlock(_ block: Block) -> Int32 {
    if let index = recycled.popLast() {
      blocks[Int(index)] = block
      return index
    }
    blocks.append(block)
    return Int32(blocks.count - 1)
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
    guard let candidate = small ? smallPool.smallest(atLeast: size) : largePool.smallest(atLeast: size) else {
      return nil
    }
    if size < maxSplit && candidate.size >= maxSplit { return nil }
    if size >= maxSplit && candidate.size >= size + Self.largeBuffer { return nil }
    remove(candidate.block)
    return candidate.block
  }

  // MARK: - Segments

  /// Makes room for `bytes` more reserved bytes within the capacity, releasing cached segments
  /// if it must; false when even that is not enough.
  private mutating func makeRoom(_ bytes: Int64, small: Bool) -> Bool {
    guard let capacity, reserved + bytes > capacity else { return true }
    retries += 1
    if !settings.expandableSegments {
      // Every free block that is a whole segment goes back to the driver.
      for pool in [largePool.keys, smallPool.keys] {
        for key in pool where blocks[Int(key.block)].previous < 0 && blocks[Int(key.block)].next < 0 {
          remove(key.block)
          reserved -= key.size
          recycled.append(key.block)
        }
      }
    } else {
      // Expandable segments unmap the free pages at each segment's end.
      for pool in [true, false] {
        guard let tail = expandableTail[pool], !blocks[Int(tail.block)].allocated else { continue }
        let unmapped = blocks[Int(tail.block)].size
        remove(tail.block)
        reserved -= unmapped
        let previous = blocks[Int(tail.block)].previous
        if previous >= 0 { blocks[Int(previous)].next = -1 }
        recycled.append(tail.block)
        expandableTail[pool] = previous >= 0 ? (previous, tail.end - unmapped) : nil
      }
    }
    return reserved + bytes <= capacity
  }

  private mutating func newSegment(small: Bool, size: Int64) -> Int32? {
    let bytes = Self.segmentSize(size)
    guard makeRoom(bytes, small: small) else { return nil }
    let index = makeBlock(
      Block(
        size: bytes, address: nextAddress, previous: -1, next: -1, allocated: false, small: small,
        tensor: .other))
    // Segments never touch: nothing merges across them.
    nextAddress += bytes + Self.roundLarge
    grow(by: bytes)
    return index
  }

  /// Grows the pool's expandable segment so that its last block holds `size`.
  private mutating func expand(small: Bool, size: Int64) -> Int32? {
    let page = small ? Self.smallBuffer : Self.largeBuffer
    func missing() -> Int64 {
      let tail = expandableTail[small]
      let tailFree = tail.map { blocks[Int($0.block)].allocated ? 0 : blocks[Int($0.block)].size } ?? 0
      return page * ((size - tailFree + page - 1) / page)
    }
    // Releasing the cache unmaps the free tail, so what is missing is counted again after it.
    guard makeRoom(missing(), small: small) else { return nil }
    let bytes = missing()
    if let capacity, reserved + bytes > capacity { return nil }
    grow(by: bytes)
    let current = expandableTail[small]
    if let current, !blocks[Int(current.block)].allocated {
      remove(current.block)
      blocks[Int(current.block)].size += bytes
      expandableTail[small] = (current.block, current.end + bytes)
      return current.block
    }
    let start = current?.end ?? (small ? 0 : Int64(1) << 50)
    let index = makeBlock(
      Block(
        size: bytes, address: start, previous: current?.block ?? -1, next: -1, allocated: false,
        small: small, tensor: .other))
    if let current { blocks[Int(current.block)].next = index }
    expandableTail[small] = (index, start + bytes)
    return index
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

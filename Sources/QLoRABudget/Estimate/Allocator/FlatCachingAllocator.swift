/// The caching allocator estimates replay their schedules through: the rules of
/// ``CachingAllocatorSimulation`` (the oracle, documented there), over flat storage it owns.
///
/// A replay runs about 18,000 events per estimate. Written over Swift arrays of arrays, each
/// event cost about 830 instructions, nearly all of it the arrays' bookkeeping (uniqueness
/// checks, bounds checks, generic insert and remove) around a few integer operations. Here the
/// blocks are one buffer of structs indexed by `Int32`, freed slots form a list threaded
/// through `next`, and each pool's size classes live in one buffer of entries: nothing is
/// reference counted, checked for uniqueness or allocated per event. `AllocatorFastPathTests`
/// replays every preset's schedule through this and the oracle and compares the reserves whole;
/// `CachingAllocatorTests` holds the rules written out by hand.
///
/// Non-copyable: it owns its buffers and frees them when it ends.
struct FlatCachingAllocator: ~Copyable {
  private typealias Rules = CachingAllocatorSimulation<SortedFreeBlockPool>

  private struct Block {
    var size: Int64
    var address: Int64
    var previous: Int32
    /// The next block of the segment; for a slot on the free list, the next free slot.
    var next: Int32
    var allocated: Bool
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
  private var smallPool = FlatFreeBlockPool()
  private var largePool = FlatFreeBlockPool()
  private var nextAddress: Int64 = 0
  /// Expandable segments: the last block of each pool's segment (-1: none) and the segment's
  /// end, index 1 for the small pool.
  private var tailBlock: (Int32, Int32) = (-1, -1)
  private var tailEnd: (Int64, Int64) = (0, 0)
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
    expandable = settings.expandableSegments
    maxSplit = settings.maxSplitBytes ?? Int64.max
    let divisions = settings.roundupPower2Divisions ?? 0
    self.divisions = divisions > 1 ? divisions : 0
    blockCapacity = 1_024
    blocks = .allocate(capacity: blockCapacity)
  }

  deinit {
    blocks.deallocate()
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
      if expandable && tail(small) == index { setTail(small, rest, tailEnd(small)) }
      pool(small) { $0.insert(size: remaining, address: block.address + size, block: rest) }
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
    let previous = block.previous
    if previous >= 0, !blocks[Int(previous)].allocated {
      let other = blocks[Int(previous)]
      remove(other)
      block.address = other.address
      block.previous = other.previous
      if other.previous >= 0 { blocks[Int(other.previous)].next = index }
      absorb(other, into: &block, slot: previous)
    }
    let next = block.next
    if next >= 0, !blocks[Int(next)].allocated {
      let other = blocks[Int(next)]
      remove(other)
      block.next = other.next
      if other.next >= 0 { blocks[Int(other.next)].previous = index }
      if expandable && tail(block.small) == next { setTail(block.small, index, tailEnd(block.small)) }
      absorb(other, into: &block, slot: next)
    }
    blocks[Int(index)] = block
    pool(block.small) { $0.insert(size: block.size, address: block.address, block: index) }
  }

  /// The cached free blocks, largest first, with the tensor that left each (the oracle's order:
  /// the large pool's then the small pool's blocks by size and address, sorted by size).
  func freeBlocks(limit: Int) -> [(bytes: Int64, tensor: ScheduledTensor)] {
    let all = (largePool.keys + smallPool.keys).sorted { $0.size > $1.size }.prefix(limit)
    return all.map { ($0.size, blocks[Int($0.block)].tensor) }
  }

  // MARK: - Blocks and pools

  /// A merged neighbour's size and name go to `block`; its slot is recycled.
  @inline(__always)
  private mutating func absorb(_ other: Block, into block: inout Block, slot: Int32) {
    // The larger piece names the merged block.
    if other.size > block.size { block.tensor = other.tensor }
    block.size += other.size
    recycle(slot)
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
  private mutating func pool(_ small: Bool, _ body: (inout FlatFreeBlockPool) -> Void) {
    if small { body(&smallPool) } else { body(&largePool) }
  }

  @inline(__always)
  private mutating func remove(_ block: Block) {
    pool(block.small) { $0.remove(size: block.size, address: block.address) }
  }

  @inline(__always)
  private mutating func bestFit(small: Bool, size: Int64) -> Int32 {
    var found: Int32 = -1
    let maxSplit = maxSplit
    pool(small) { pool in
      guard let (position, candidate) = pool.smallest(atLeast: size) else { return }
      if size < maxSplit && candidate.size >= maxSplit { return }
      if size >= maxSplit && candidate.size >= size + Rules.largeBuffer { return }
      pool.remove(at: position)
      found = candidate.block
    }
    return found
  }

  @inline(__always)
  private func tail(_ small: Bool) -> Int32 { small ? tailBlock.1 : tailBlock.0 }
  @inline(__always)
  private func tailEnd(_ small: Bool) -> Int64 { small ? tailEnd.1 : tailEnd.0 }

  @inline(__always)
  private mutating func setTail(_ small: Bool, _ block: Int32, _ end: Int64) {
    if small { (tailBlock.1, tailEnd.1) = (block, end) } else { (tailBlock.0, tailEnd.0) = (block, end) }
  }

  // MARK: - Segments

  /// Makes room for `bytes` more reserved bytes within the capacity, releasing cached segments
  /// if it must; false when even that is not enough.
  private mutating func makeRoom(_ bytes: Int64, small: Bool) -> Bool {
    guard let capacity, reserved + bytes > capacity else { return true }
    retries += 1
    if !expandable {
      // Every free block that is a whole segment goes back to the driver.
      for key in largePool.keys + smallPool.keys
      where blocks[Int(key.block)].previous < 0 && blocks[Int(key.block)].next < 0 {
        remove(blocks[Int(key.block)])
        reserved -= key.size
        recycle(key.block)
      }
    } else {
      // Expandable segments unmap the free pages at each segment's end.
      for pool in [true, false] {
        let last = tail(pool)
        guard last >= 0, !blocks[Int(last)].allocated else { continue }
        let unmapped = blocks[Int(last)].size
        remove(blocks[Int(last)])
        reserved -= unmapped
        let previous = blocks[Int(last)].previous
        if previous >= 0 { blocks[Int(previous)].next = -1 }
        recycle(last)
        setTail(pool, previous, previous >= 0 ? tailEnd(pool) - unmapped : 0)
      }
    }
    return reserved + bytes <= capacity
  }

  private mutating func newSegment(small: Bool, size: Int64) -> Int32 {
    let bytes = Rules.segmentSize(size)
    guard makeRoom(bytes, small: small) else { return -1 }
    let index = makeBlock(
      Block(size: bytes, address: nextAddress, previous: -1, next: -1, allocated: false, small: small, tensor: .other))
    // Segments never touch: nothing merges across them.
    nextAddress += bytes + Rules.roundLarge
    grow(by: bytes)
    return index
  }

  /// Grows the pool's expandable segment so that its last block holds `size`.
  private mutating func expand(small: Bool, size: Int64) -> Int32 {
    let page = small ? Rules.smallBuffer : Rules.largeBuffer
    func missing() -> Int64 {
      let last = tail(small)
      let tailFree = last >= 0 && !blocks[Int(last)].allocated ? blocks[Int(last)].size : 0
      return page * ((size - tailFree + page - 1) / page)
    }
    // Releasing the cache unmaps the free tail, so what is missing is counted again after it.
    guard makeRoom(missing(), small: small) else { return -1 }
    let bytes = missing()
    if let capacity, reserved + bytes > capacity { return -1 }
    grow(by: bytes)
    let current = tail(small)
    if current >= 0 && !blocks[Int(current)].allocated {
      remove(blocks[Int(current)])
      blocks[Int(current)].size += bytes
      setTail(small, current, tailEnd(small) + bytes)
      return current
    }
    let start = current >= 0 ? tailEnd(small) : (small ? 0 : Int64(1) << 50)
    let index = makeBlock(
      Block(size: bytes, address: start, previous: current, next: -1, allocated: false, small: small, tensor: .other))
    if current >= 0 { blocks[Int(current)].next = index }
    setTail(small, index, start + bytes)
    return index
  }

  @inline(__always)
  private mutating func grow(by bytes: Int64) {
    reserved += bytes
    peakReserved = max(peakReserved, reserved)
  }
}

/// The cached free blocks of one pool of ``FlatCachingAllocator``, in the size classes of the
/// pool it replaced: a power of two cut into 16 (sizes below 16 B a class each), so classes
/// keep the size order and a class spans sizes within 1/16 of each other. Each class is a run
/// of entries sorted by size then address inside its own region of one shared buffer, and a
/// bitmap names the classes that hold any: best-fit bisects one class and else takes the
/// first entry of the next occupied class.
///
/// A run moves whichever side of an insertion or removal is shorter, so it grows and shrinks
/// at both ends. Most classes hold zero or one block, but a few hold a hundred blocks of one
/// size, and there best-fit takes the lowest address (the run's front) while a freed block
/// mostly lands near the front too: Qwen3-14B's replay inserted 16,291 entries and removed
/// 15,947, 96% of the removals at the front, which a run that only moves its tail shifted by
/// about 25 entries on average. A class that fills its region moves to the buffer's end with
/// twice the room, centred (the old region is left unused), so the buffer only grows while a
/// replay holds more free blocks than ever before.
struct FlatFreeBlockPool: ~Copyable {
  struct Entry {
    let size: Int64
    let address: Int64
    let block: Int32
  }

  private static let subdivisionBits = 4
  private static let classCount = 64 << subdivisionBits
  private static let words = classCount / 64

  /// Per class: where its run starts in `entries`, how many it holds, where its region
  /// starts and how many entries the region holds.
  private let starts: UnsafeMutablePointer<Int32>
  private let counts: UnsafeMutablePointer<Int32>
  private let regions: UnsafeMutablePointer<Int32>
  private let rooms: UnsafeMutablePointer<Int32>
  /// Bit `c % 64` of word `c / 64` is set when class `c` holds a block.
  private let occupied: UnsafeMutablePointer<UInt64>
  private var entries: UnsafeMutablePointer<Entry>
  private var used = 0
  private var room = 256

  init() {
    starts = .allocate(capacity: 4 * Self.classCount)
    starts.initialize(repeating: 0, count: 4 * Self.classCount)
    counts = starts + Self.classCount
    regions = counts + Self.classCount
    rooms = regions + Self.classCount
    occupied = .allocate(capacity: Self.words)
    occupied.initialize(repeating: 0, count: Self.words)
    entries = .allocate(capacity: room)
  }

  deinit {
    starts.deallocate()
    occupied.deallocate()
    entries.deallocate()
  }

  /// The class of `size` (> 0): classes grow with sizes.
  @inline(__always)
  private static func sizeClass(_ size: Int64) -> Int {
    let bits = Int64(1) << subdivisionBits
    guard size >= bits else { return Int(max(size, 0)) }
    let exponent = 63 - size.leadingZeroBitCount
    return exponent << subdivisionBits | Int((size >> (exponent - subdivisionBits)) & (bits - 1))
  }

  /// The first place in class `c`'s run whose entry is not below (size, address).
  @inline(__always)
  private func lowerBound(_ c: Int, _ size: Int64, _ address: Int64) -> Int {
    let run = entries + Int(starts[c])
    var low = 0
    var high = Int(counts[c])
    while low < high {
      let middle = (low + high) >> 1
      let entry = run[middle]
      if entry.size < size || (entry.size == size && entry.address < address) {
        low = middle + 1
      } else {
        high = middle
      }
    }
    return low
  }

  @inline(__always)
  mutating func insert(size: Int64, address: Int64, block: Int32) {
    let c = Self.sizeClass(size)
    let count = Int(counts[c])
    if count == Int(rooms[c]) { enlarge(c) }
    let at = lowerBound(c, size, address)
    let start = Int(starts[c])
    let before = start - Int(regions[c])
    let after = Int(rooms[c]) - before - count
    if after == 0 || (before > 0 && at < count - at) {
      // The entries before `at` move one down.
      Self.move(entries + start - 1, from: entries + start, count: at)
      starts[c] = Int32(start - 1)
    } else {
      Self.move(entries + start + at + 1, from: entries + start + at, count: count - at)
    }
    entries[Int(starts[c]) + at] = Entry(size: size, address: address, block: block)
    counts[c] = Int32(count + 1)
    occupied[c >> 6] |= 1 << UInt64(c & 63)
  }

  /// Removes the block of `size` at `address`, which the pool holds.
  @inline(__always)
  mutating func remove(size: Int64, address: Int64) {
    let c = Self.sizeClass(size)
    let at = lowerBound(c, size, address)
    precondition(at < Int(counts[c]) && entries[Int(starts[c]) + at].address == address)
    remove(at: (c, at))
  }

  /// Removes the entry at `position` (a class and a place in its run).
  @inline(__always)
  mutating func remove(at position: (sizeClass: Int, index: Int)) {
    let (c, at) = position
    let count = Int(counts[c]) - 1
    let start = Int(starts[c])
    if count == 0 {
      // Empty: the next run starts in the middle of the region, room on both sides.
      starts[c] = regions[c] + rooms[c] / 2
      occupied[c >> 6] &= ~(1 << UInt64(c & 63))
    } else if at < count - at {
      // The entries before `at` move one up.
      Self.move(entries + start + 1, from: entries + start, count: at)
      starts[c] = Int32(start + 1)
    } else {
      Self.move(entries + start + at, from: entries + start + at + 1, count: count - at)
    }
    counts[c] = Int32(count)
  }

  /// Moves `count` entries from `source` to `target` (the two may overlap). Most moves are of
  /// none or a few entries, which a loop does faster than a call to `memmove`.
  @inline(__always)
  private static func move(_ target: UnsafeMutablePointer<Entry>, from source: UnsafeMutablePointer<Entry>, count: Int) {
    if count > 8 {
      target.moveInitialize(from: source, count: count)
    } else if target < source {
      for index in 0..<count { target[index] = source[index] }
    } else {
      for index in (0..<count).reversed() { target[index] = source[index] }
    }
  }

  /// The smallest block of at least `size` bytes, the lowest address among equals, and where
  /// it is.
  @inline(__always)
  func smallest(atLeast size: Int64) -> (position: (sizeClass: Int, index: Int), entry: Entry)? {
    var c = Self.sizeClass(size)
    let at = lowerBound(c, size, -1)
    if at < Int(counts[c]) { return ((c, at), entries[Int(starts[c]) + at]) }
    // The first occupied class above.
    c += 1
    var word = c >> 6
    guard word < Self.words else { return nil }
    var bits = occupied[word] & (~0 << UInt64(c & 63))
    while bits == 0 {
      word += 1
      guard word < Self.words else { return nil }
      bits = occupied[word]
    }
    c = word << 6 | bits.trailingZeroBitCount
    return ((c, 0), entries[Int(starts[c])])
  }

  /// Every block, ascending by size then address.
  var keys: [FreeBlockKey] {
    var keys: [FreeBlockKey] = []
    for c in 0..<Self.classCount {
      let run = entries + Int(starts[c])
      for index in 0..<Int(counts[c]) {
        keys.append(FreeBlockKey(size: run[index].size, address: run[index].address, block: run[index].block))
      }
    }
    return keys
  }

  /// Moves class `c`'s run to a new region at the buffer's end with twice the room (at least
  /// 4), the run in its middle.
  private mutating func enlarge(_ c: Int) {
    let count = Int(counts[c])
    let grown = max(2 * count, 4)
    if used + grown > room {
      room = max(2 * room, used + grown)
      let larger = UnsafeMutablePointer<Entry>.allocate(capacity: room)
      larger.moveInitialize(from: entries, count: used)
      entries.deallocate()
      entries = larger
    }
    let start = used + (grown - count) / 2
    (entries + start).moveInitialize(from: entries + Int(starts[c]), count: count)
    starts[c] = Int32(start)
    regions[c] = Int32(used)
    rooms[c] = Int32(grown)
    used += grown
  }
}

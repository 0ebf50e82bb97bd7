/// A cached free block as a pool orders it: by size, then address (PyTorch's
/// `BlockComparatorSize`); `block` is the allocator's index of the block.
struct FreeBlockKey: Comparable, Sendable {
  let size: Int64
  let address: Int64
  let block: Int32
  static func < (a: FreeBlockKey, b: FreeBlockKey) -> Bool {
    a.size != b.size ? a.size < b.size : a.address < b.address
  }
}

/// The cached free blocks of one pool (small or large) of ``CachingAllocatorSimulation``:
/// what best-fit searches. Two implementations with one behaviour: ``SortedFreeBlockPool``, the
/// straightforward one kept as the oracle, and ``SizeClassFreeBlockPool``, the one estimates
/// use (`AllocatorFastPathTests` replays every preset's schedule through both).
protocol FreeBlockPool: Sendable {
  init()
  mutating func insert(_ key: FreeBlockKey)
  /// Removes `key`, which the pool holds.
  mutating func remove(_ key: FreeBlockKey)
  /// The smallest block of at least `size` bytes, the lowest address among equals.
  func smallest(atLeast size: Int64) -> FreeBlockKey?
  /// Every block, ascending by size then address.
  var keys: [FreeBlockKey] { get }
}

/// The reference pool: one array sorted by size then address, searched by bisection.
struct SortedFreeBlockPool: FreeBlockPool {
  private var sorted: [FreeBlockKey] = []

  init() {}

  private func position(_ key: FreeBlockKey) -> Int {
    sorted.firstIndex(notBelow: { $0 < key })
  }

  mutating func insert(_ key: FreeBlockKey) {
    sorted.insert(key, at: position(key))
  }

  mutating func remove(_ key: FreeBlockKey) {
    let at = position(key)
    precondition(sorted[at].block == key.block)
    sorted.remove(at: at)
  }

  func smallest(atLeast size: Int64) -> FreeBlockKey? {
    let at = position(FreeBlockKey(size: size, address: -1, block: -1))
    return at < sorted.count ? sorted[at] : nil
  }

  var keys: [FreeBlockKey] { sorted }
}

/// The pool estimates use: the blocks in size classes, each class's blocks sorted by size then
/// address, and a bitmap of the classes that hold any. A class is a power of two cut into 16
/// (sizes below 16 B are a class each), so classes keep the size order and one class spans
/// sizes within 1/16 of each other: best-fit searches one class's few blocks, and else takes
/// the first block of the next class the bitmap names. A run's free blocks come in arbitrary
/// sizes (the rests of splits), hundreds at once; the 1,024 classes are fixed, so a pool
/// allocates no storage once its classes have held blocks (a pool that kept a bucket per
/// distinct size created and dropped one for most inserts).
struct SizeClassFreeBlockPool: FreeBlockPool {
  private struct Entry {
    let size: Int64
    let address: Int64
    let block: Int32

    func isBelow(_ size: Int64, _ address: Int64) -> Bool {
      self.size != size ? self.size < size : self.address < address
    }
  }

  private static let subdivisionBits = 4
  private static let classCount = 64 << subdivisionBits
  private var classes = [[Entry]](repeating: [], count: classCount)
  /// Bit `c % 64` of word `c / 64` is set when class `c` holds a block.
  private var occupied = [UInt64](repeating: 0, count: classCount / 64)

  init() {}

  /// The class of `size` (> 0): classes grow with sizes.
  private static func sizeClass(_ size: Int64) -> Int {
    let bits = Int64(1) << subdivisionBits
    guard size >= bits else { return Int(max(size, 0)) }
    let exponent = 63 - size.leadingZeroBitCount
    return exponent << subdivisionBits | Int((size >> (exponent - subdivisionBits)) & (bits - 1))
  }

  mutating func insert(_ key: FreeBlockKey) {
    let index = Self.sizeClass(key.size)
    let at = classes[index].firstIndex(notBelow: { $0.isBelow(key.size, key.address) })
    classes[index].insert(Entry(size: key.size, address: key.address, block: key.block), at: at)
    occupied[index >> 6] |= 1 << UInt64(index & 63)
  }

  mutating func remove(_ key: FreeBlockKey) {
    let index = Self.sizeClass(key.size)
    let at = classes[index].firstIndex(notBelow: { $0.isBelow(key.size, key.address) })
    precondition(at < classes[index].count && classes[index][at].block == key.block)
    classes[index].remove(at: at)
    if classes[index].isEmpty { occupied[index >> 6] &= ~(1 << UInt64(index & 63)) }
  }

  func smallest(atLeast size: Int64) -> FreeBlockKey? {
    var index = Self.sizeClass(size)
    let own = classes[index]
    let at = own.firstIndex(notBelow: { $0.isBelow(size, -1) })
    if at < own.count { return Self.key(own[at]) }
    // The first occupied class above.
    index += 1
    var word = index >> 6
    guard word < occupied.count else { return nil }
    var bits = occupied[word] & (~0 << UInt64(index & 63))
    while bits == 0 {
      word += 1
      guard word < occupied.count else { return nil }
      bits = occupied[word]
    }
    return Self.key(classes[word << 6 | bits.trailingZeroBitCount][0])
  }

  private static func key(_ entry: Entry) -> FreeBlockKey {
    FreeBlockKey(size: entry.size, address: entry.address, block: entry.block)
  }

  var keys: [FreeBlockKey] { classes.flatMap { $0.map(Self.key) } }
}

extension Array {
  /// The first index whose element is not below the bound (a lower bound by bisection), for an
  /// array ordered so that `isBelow` holds for a prefix and fails for the rest.
  fileprivate func firstIndex(notBelow isBelow: (Element) -> Bool) -> Int {
    var low = 0
    var high = count
    while low < high {
      let middle = (low + high) / 2
      if isBelow(self[middle]) { low = middle + 1 } else { high = middle }
    }
    return low
  }
}

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
/// straightforward one kept as the oracle, and ``SizeBucketedFreeBlockPool``, the one estimates
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

/// The pool estimates use. A run's free blocks come in few sizes (qwen3-14b r32: at most 544
/// free blocks of 23 distinct sizes), so the pool keeps the distinct sizes sorted and, per
/// size, the blocks sorted by address: best-fit bisects the few sizes and takes the first
/// block of one bucket, and an insert or remove moves one bucket's entries, not the pool's.
struct SizeBucketedFreeBlockPool: FreeBlockPool {
  private struct Entry {
    let address: Int64
    let block: Int32
  }

  /// Distinct sizes, ascending; `buckets[i]` holds the blocks of `sizes[i]`, never empty.
  private var sizes: [Int64] = []
  private var buckets: [[Entry]] = []

  init() {}

  /// The index of the first size >= `size`.
  private func sizeIndex(_ size: Int64) -> Int {
    sizes.firstIndex(notBelow: { $0 < size })
  }

  /// The index of the first entry of `bucket` at or above `address`.
  private static func addressIndex(_ address: Int64, in bucket: [Entry]) -> Int {
    bucket.firstIndex(notBelow: { $0.address < address })
  }

  mutating func insert(_ key: FreeBlockKey) {
    let index = sizeIndex(key.size)
    let entry = Entry(address: key.address, block: key.block)
    guard index < sizes.count, sizes[index] == key.size else {
      sizes.insert(key.size, at: index)
      buckets.insert([entry], at: index)
      return
    }
    let at = Self.addressIndex(key.address, in: buckets[index])
    buckets[index].insert(entry, at: at)
  }

  mutating func remove(_ key: FreeBlockKey) {
    let index = sizeIndex(key.size)
    precondition(index < sizes.count && sizes[index] == key.size)
    if buckets[index].count == 1 {
      precondition(buckets[index][0].block == key.block)
      sizes.remove(at: index)
      buckets.remove(at: index)
      return
    }
    let at = Self.addressIndex(key.address, in: buckets[index])
    precondition(buckets[index][at].block == key.block)
    buckets[index].remove(at: at)
  }

  func smallest(atLeast size: Int64) -> FreeBlockKey? {
    let index = sizeIndex(size)
    guard index < sizes.count else { return nil }
    let first = buckets[index][0]
    return FreeBlockKey(size: sizes[index], address: first.address, block: first.block)
  }

  var keys: [FreeBlockKey] {
    var result: [FreeBlockKey] = []
    for (size, bucket) in zip(sizes, buckets) {
      for entry in bucket { result.append(FreeBlockKey(size: size, address: entry.address, block: entry.block)) }
    }
    return result
  }
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

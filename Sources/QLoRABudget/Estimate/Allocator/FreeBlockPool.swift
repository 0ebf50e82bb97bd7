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

/// The cached free blocks of one pool (small or large) of ``CachingAllocatorSimulation``, the
/// oracle: what best-fit searches. ``SortedFreeBlockPool`` is the straightforward one; the
/// allocator estimates use keeps its own (`FreeLists`, in `FlatCachingAllocator.swift`).
protocol FreeBlockPool: Sendable {
  init()
  mutating func insert(_ key: FreeBlockKey)
  /// Removes `key`, which the pool holds.
  mutating func remove(_ key: FreeBlockKey)
  /// The smallest block of at least `size` bytes, the lowest address among equals.
  func smallest(atLeast size: Int64) -> FreeBlockKey?
  /// The block after `key` (which the pool holds), by size then address.
  func successor(of key: FreeBlockKey) -> FreeBlockKey?
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

  func successor(of key: FreeBlockKey) -> FreeBlockKey? {
    let at = position(key) + 1
    return at < sorted.count ? sorted[at] : nil
  }

  var keys: [FreeBlockKey] { sorted }
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

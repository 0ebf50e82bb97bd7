import Foundation
import QLoRABudget

/// Finds PyTorch's out-of-memory reports in pasted text and reads every figure they state.
///
/// Formats read (PyTorch's `CUDACachingAllocator`, and ROCm's `HIP out of memory`):
/// - current (2.1 and later): `Tried to allocate X. GPU N has a total capacity of T of which F is
///   free. [Including non-PyTorch memory, this process has P memory in use. | Process PID has P
///   memory in use. ...] [A allowed; ]Of the allocated memory A is allocated by PyTorch[, with V
///   allocated in private pools (e.g., CUDA Graphs)], and U is reserved by PyTorch but
///   unallocated.` (2.1's `capacty` typo too);
/// - before 2.1: `Tried to allocate X (GPU N; T total capacity; A already allocated; F free;
///   [L allowed; ]R reserved in total by PyTorch)`;
/// - 1.0 to 1.3: `... F free; C cached)`.
/// A message counts when it states at least the request or the capacity (a sentence that only
/// mentions "CUDA out of memory" is not one).
public enum OutOfMemoryReader {
  /// The largest paste read, in UTF-8 bytes: many times any real log excerpt.
  public static let maximumInputBytes = 4 << 20
  /// Messages read at most; a log repeating one OOM more often than this is cut there.
  public static let maximumMessages = 1_000
  /// How far past its first words a message's clauses are looked for (UTF-16 units).
  static let messageSpan = 4_000

  /// Every OOM message in `text`, in order of appearance (a rank's messages at the line they
  /// begin on).
  public static func messages(in text: String) throws(DiagnosisError) -> [OutOfMemoryMessage] {
    let size = text.utf8.count
    guard size <= maximumInputBytes else { throw .inputTooLarge(bytes: Int64(size), limit: Int64(maximumInputBytes)) }
    var found: [(line: Int, order: Int, message: OutOfMemoryMessage)] = []
    for stream in PastedLog(text).streams {
      let anchors = Pattern.anchor.matches(in: stream.text, range: NSRange(location: 0, length: stream.length))
      for (index, anchor) in anchors.prefix(maximumMessages).enumerated() {
        let end = index + 1 < anchors.count ? anchors[index + 1].range.location : stream.length
        let span = NSRange(
          location: anchor.range.location, length: min(end, anchor.range.location + messageSpan) - anchor.range.location
        )
        let backend: OutOfMemoryMessage.Backend =
          (stream.text as NSString).substring(with: anchor.range(at: 1)) == "HIP" ? .hip : .cuda
        var message = OutOfMemoryMessage(backend: backend)
        message.rank = stream.rank
        guard read(stream.text as NSString, span, into: &message) else { continue }
        found.append((stream.line(at: anchor.range.location), found.count, message))
      }
    }
    guard !found.isEmpty else { throw .noMessage }
    return found.sorted { ($0.line, $0.order) < ($1.line, $1.order) }.prefix(maximumMessages).map(\.message)
  }

  /// Reads the clauses inside `span`; false when neither the request nor the capacity is stated.
  private static func read(_ text: NSString, _ span: NSRange, into message: inout OutOfMemoryMessage) -> Bool {
    var lastEnd = span.location
    func size(_ pattern: NSRegularExpression, _ name: String, group: Int = 1) -> Int64? {
      guard let match = pattern.firstMatch(in: text as String, range: span) else { return nil }
      return value(of: match, group: group, name: name)
    }
    func value(of match: NSTextCheckingResult, group: Int, name: String) -> Int64? {
      lastEnd = max(lastEnd, NSMaxRange(match.range))
      let number = text.substring(with: match.range(at: group))
      guard let unit = PrintedSize.Unit(rawValue: text.substring(with: match.range(at: group + 1))),
        let printed = PrintedSize(value: Substring(number), unit: unit)
      else { return nil }
      if printed.saturated { message.saturated.append(name) }
      return printed.bytes
    }
    func index(_ match: NSTextCheckingResult) -> Int64? {
      let range = match.range(at: 1)
      return range.length > 0 ? Int64(text.substring(with: range)) : nil
    }

    message.triedToAllocate = size(Pattern.tried, "tried_to_allocate_bytes")
    if let current = Pattern.capacity.firstMatch(in: text as String, range: span) {
      message.gpuIndex = index(current)
      message.totalCapacity = value(of: current, group: 2, name: "total_capacity_bytes")
      message.free = size(Pattern.free, "free_bytes")
      message.allocatedByPyTorch = size(Pattern.allocated, "allocated_by_pytorch_bytes")
      message.reservedUnallocated = size(Pattern.unallocated, "reserved_unallocated_bytes")
    } else if let old = Pattern.oldCapacity.firstMatch(in: text as String, range: span) {
      message.gpuIndex = index(old)
      message.totalCapacity = value(of: old, group: 2, name: "total_capacity_bytes")
      message.allocatedByPyTorch = size(Pattern.oldAllocated, "allocated_by_pytorch_bytes")
      message.free = size(Pattern.oldFree, "free_bytes")
      message.reservedByPyTorch = size(Pattern.oldReserved, "reserved_by_pytorch_bytes")
      message.reservedUnallocated = size(Pattern.oldCached, "reserved_unallocated_bytes")
    }
    message.allocatedInPrivatePools = size(Pattern.privatePools, "allocated_in_private_pools_bytes")
    message.allowed = size(Pattern.allowed, "allowed_bytes")
    message.processInUse = size(Pattern.thisProcess, "process_in_use_bytes")
    for match in Pattern.otherProcess.matches(in: text as String, range: span) {
      guard let pid = Int64(text.substring(with: match.range(at: 1))),
        let bytes = value(of: match, group: 2, name: "other_processes")
      else { continue }
      message.otherProcesses.append(.init(pid: pid, bytes: bytes))
    }
    guard message.triedToAllocate != nil || message.totalCapacity != nil else { return false }
    // The advice PyTorch appends right after the figures (not a later line that happens to
    // mention the setting).
    let adviceSpan = NSIntersectionRange(span, NSRange(location: lastEnd, length: 400))
    let advice = adviceSpan.length > 0 ? text.substring(with: adviceSpan) : ""
    if advice.contains("expandable_segments") {
      message.suggests = .expandableSegments
    } else if advice.contains("max_split_size_mb") {
      message.suggests = .maxSplitSizeMB
    }
    return true
  }

  /// The clauses, any whitespace (or none, after unwrapping) between words; `#` is a size.
  enum Pattern {
    static func clause(_ words: String) -> NSRegularExpression {
      let size = #"([0-9]+(?:\.[0-9]+)?)\s*(bytes|KiB|MiB|GiB|TiB|PiB)"#
      let pattern = words.split(separator: " ").map { $0 == "#" ? size : String($0) }.joined(separator: #"\s*"#)
      return try! NSRegularExpression(pattern: pattern)
    }

    static let anchor = clause("(CUDA|HIP) out of memory")
    static let tried = clause("Tried to allocate #")
    static let capacity = clause("GPU ([0-9]{0,9}) has a total capaci?ty of #")
    static let free = clause("of which # is free")
    static let thisProcess = clause("[Tt]his process has # memory in use")
    static let otherProcess = clause("Process ([0-9]{1,18}) has # memory in use")
    static let allowed = clause("# allowed ;")
    static let allocated = clause("Of the allocated memory # is allocated by PyTorch")
    static let privatePools = clause("with # allocated in private pools")
    static let unallocated = clause("and # is reserved by PyTorch but unallocated")
    static let oldCapacity = clause(#"\( GPU ([0-9]{0,9}) ; # total capaci?ty"#)
    static let oldAllocated = clause("; # already allocated")
    static let oldFree = clause("; # free")
    static let oldReserved = clause("; # reserved in total by PyTorch")
    static let oldCached = clause("; # cached")
  }
}

/// Why a paste gave no diagnosis.
public enum DiagnosisError: Error, Hashable, Sendable, CustomStringConvertible {
  /// No `CUDA out of memory` / `HIP out of memory` report with figures in the text.
  case noMessage
  /// The paste is larger than ``OutOfMemoryReader/maximumInputBytes``.
  case inputTooLarge(bytes: Int64, limit: Int64)

  public var description: String {
    switch self {
    case .noMessage:
      return
        "no out-of-memory message found: expected PyTorch's 'CUDA out of memory. Tried to allocate ...' (or 'HIP out of memory') with its figures"
    case .inputTooLarge(let bytes, let limit):
      return
        "the text is \(bytes) bytes, more than the \(limit) bytes read: paste the out-of-memory message and the lines around it"
    }
  }
}

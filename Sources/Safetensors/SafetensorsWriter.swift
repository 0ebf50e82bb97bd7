import FileSafety
import Foundation

/// The name, dtype and shape of a tensor to write.
public struct SafetensorsTensorSpec: Hashable, Sendable {
  public let name: String
  public let dtype: SafetensorsDType
  public let shape: [Int64]

  public init(name: String, dtype: SafetensorsDType, shape: [Int64]) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
  }

  /// `product(shape) * size(dtype)`, or nil on overflow or a negative dimension.
  public var byteCount: Int64? {
    guard shape.allSatisfy({ $0 >= 0 }) else { return nil }
    return SafetensorsTensorInfo.checkedProduct(shape, startingAt: dtype.byteSize)
  }
}

/// Writes a safetensors file tensor by tensor, so only one tensor's bytes need be in memory,
/// through an ``AtomicFileWriter``: nothing appears at the destination until ``finish(trailing:)``
/// has written everything, read the header back and renamed the file into place.
///
/// The specs are given up front and ``write(_:bytes:)`` is called once per tensor in their order;
/// data offsets are assigned in that order with no gaps. *Trailing* tensors are 1-D U8 byte
/// strings whose length is known only at the end (bitsandbytes' quant-state JSON holds a mean
/// over the data): their bytes are given to ``finish(trailing:)`` and stored after the others.
/// The header goes in last, at the start of the file, into room reserved for the longest
/// numbers the trailing entries could have, padded with spaces (as huggingface's writer pads
/// to a multiple of 8 bytes, so the data section stays 8-byte aligned). Readers skip the
/// spaces: JSON allows whitespace after the object.
public final class SafetensorsWriter {
  public let url: URL
  private let specs: [SafetensorsTensorSpec]
  private let trailing: [String]
  private let metadata: [String: String]
  private var next = 0
  /// Bytes of tensor `next` written so far (a tensor may be written in pieces).
  private var written: Int64 = 0
  private let file: AtomicFileWriter
  /// Starts each piece's disk writes as the file grows, so committing waits for the tail only.
  private let writeback: EarlyWriteback?
  /// Bytes reserved for the header (a multiple of 8).
  private let headerLength: Int

  /// Checks the destination (see ``AtomicFileWriter``) and creates the temporary file.
  ///
  /// - Throws: ``SafetensorsError`` for a duplicate name, an overflowing shape, a header over
  ///   the format's limit, or a destination that cannot be written.
  public convenience init(
    url: URL, tensors: [SafetensorsTensorSpec], trailing: [String] = [], metadata: [String: String] = [:],
    replacingExisting: Bool = true, protecting inputs: [FileIdentity: String] = [:]
  ) throws(SafetensorsError) {
    let file: AtomicFileWriter
    do {
      file = try AtomicFileWriter(path: url.path, replacingExisting: replacingExisting, protecting: inputs)
    } catch {
      throw .file(error)
    }
    try self.init(file: file, tensors: tensors, trailing: trailing, metadata: metadata)
  }

  /// Writes through `file` (e.g. one from ``StagingFolder/writer(for:)``).
  public init(
    file: AtomicFileWriter, tensors: [SafetensorsTensorSpec], trailing: [String] = [], metadata: [String: String] = [:]
  ) throws(SafetensorsError) {
    self.file = file
    writeback = EarlyWriteback(path: file.temporaryPath)
    url = URL(fileURLWithPath: file.destination)
    specs = tensors
    self.trailing = trailing
    self.metadata = metadata
    guard tensors.count + trailing.count <= SafetensorsHeader.maximumTensorCount else {
      throw .tooManyTensors(limit: SafetensorsHeader.maximumTensorCount)
    }
    var seen = Set<String>(["__metadata__"])
    var offset: Int64 = 0
    var entries: [(SafetensorsTensorSpec, Range<Int64>)] = []
    for spec in tensors {
      guard seen.insert(spec.name).inserted else { throw .duplicateTensor(spec.name) }
      guard let bytes = spec.byteCount, case (let end, false) = offset.addingReportingOverflow(bytes) else {
        throw .sizeOverflow(tensor: spec.name, shape: spec.shape)
      }
      entries.append((spec, offset..<end))
      offset = end
    }
    for name in trailing {
      guard seen.insert(name).inserted else { throw .duplicateTensor(name) }
    }
    // The longest the trailing entries can be: 19-digit shape and offsets.
    let widest = Int64(999_999_999_999_999_999)
    let worstTrailing = trailing.map { Self.entry(.init(name: $0, dtype: .u8, shape: [widest]), widest..<widest) }
    let fixed = entries.map { Self.entry($0.0, $0.1) }
    let length = Self.headerText(fixed + worstTrailing, metadata: metadata).count
    headerLength = (length + 7) / 8 * 8
    guard headerLength <= SafetensorsHeader.maximumHeaderLength else {
      throw .headerTooLarge(length: UInt64(headerLength))
    }
    file.skip(to: Int64(headerLength + 8))
  }

  /// The names of every tensor the file will hold: the specs', then the trailing ones.
  public var tensorNames: [String] { specs.map(\.name) + trailing }

  /// Writes the data of the next tensor, `bytes` little-endian.
  ///
  /// - Throws: ``SafetensorsError/outOfOrderWrite(expected:actual:)`` or
  ///   ``SafetensorsError/byteCountMismatch(tensor:expected:actual:)``.
  public func write(_ name: String, bytes: some ContiguousBytes) throws(SafetensorsError) {
    let spec = try current(name)
    let count = bytes.withUnsafeBytes { Int64($0.count) }
    guard written == 0, count == spec.byteCount else {
      throw .byteCountMismatch(tensor: name, expected: spec.byteCount ?? -1, actual: written + count)
    }
    var result: Result<Void, SafetensorsError> = .success(())
    bytes.withUnsafeBytes { raw in result = Result { () throws(SafetensorsError) in try append(name, bytes: raw) } }
    try result.get()
  }

  /// Writes the next piece of the tensor `name`: a tensor may be written in several pieces,
  /// in order; the writer moves on to the next tensor once all its bytes are written.
  ///
  /// - Throws: ``SafetensorsError/outOfOrderWrite(expected:actual:)``, or
  ///   ``SafetensorsError/byteCountMismatch(tensor:expected:actual:)`` for more bytes than the
  ///   tensor holds.
  public func append(_ name: String, bytes: UnsafeRawBufferPointer) throws(SafetensorsError) {
    let spec = try current(name)
    let total = spec.byteCount ?? 0
    guard Int64(bytes.count) <= total - written else {
      throw .byteCountMismatch(tensor: name, expected: total, actual: written + Int64(bytes.count))
    }
    do {
      try file.write(bytes)
    } catch {
      throw .file(error)
    }
    writeback?.written(upTo: file.position)
    written += Int64(bytes.count)
    if written == total {
      next += 1
      written = 0
    }
  }

  /// The spec of the tensor to write next, which must be `name`.
  private func current(_ name: String) throws(SafetensorsError) -> SafetensorsTensorSpec {
    guard next < specs.count else { throw .unknownTensor(name) }
    guard specs[next].name == name else { throw .outOfOrderWrite(expected: specs[next].name, actual: name) }
    return specs[next]
  }

  /// Copies the next tensor from `file`, whose entry `info` has the same name, dtype and shape,
  /// through `buffer` (reused for every piece): memory stays at one buffer whatever the
  /// tensor's size.
  public func copy(
    _ info: SafetensorsTensorInfo, from source: SafetensorsFile, through buffer: UnsafeMutableRawBufferPointer
  ) throws(SafetensorsError) {
    let spec = try current(info.name)
    guard written == 0, spec.byteCount == info.byteCount, spec.dtype == info.dtype,
      !buffer.isEmpty || info.byteCount == 0
    else {
      throw .byteCountMismatch(tensor: info.name, expected: spec.byteCount ?? -1, actual: info.byteCount)
    }
    if info.byteCount == 0 { return try append(info.name, bytes: UnsafeRawBufferPointer(start: nil, count: 0)) }
    var offset: Int64 = 0
    while offset < info.byteCount {
      let piece = UnsafeMutableRawBufferPointer(
        rebasing: buffer[..<Int(min(Int64(buffer.count), info.byteCount - offset))])
      try source.read(info, offset: offset, into: piece)
      try append(info.name, bytes: UnsafeRawBufferPointer(piece))
      offset += Int64(piece.count)
    }
  }

  /// ``copy(_:from:through:)`` through a buffer of at most `chunkBytes`, allocated for this call.
  public func copy(_ info: SafetensorsTensorInfo, from source: SafetensorsFile, chunkBytes: Int = 16 << 20)
    throws(SafetensorsError)
  {
    let buffer = UnsafeMutableRawBufferPointer.allocate(
      byteCount: Int(min(Int64(max(chunkBytes, 1)), max(info.byteCount, 1))), alignment: 64)
    defer { buffer.deallocate() }
    try copy(info, from: source, through: buffer)
  }

  /// Writes the trailing tensors and the header, reads the header back, and renames the file
  /// into place. On any error the destination is left as it was.
  public func finish(trailing values: [String: [UInt8]] = [:]) throws(SafetensorsError) {
    guard next == specs.count else { throw .missingTensorData(specs[next...].map(\.name)) }
    var entries: [(SafetensorsTensorSpec, Range<Int64>)] = []
    var offset: Int64 = 0
    for spec in specs {
      let end = offset + (spec.byteCount ?? 0)
      entries.append((spec, offset..<end))
      offset = end
    }
    do {
      for name in trailing {
        guard let bytes = values[name] else { throw SafetensorsError.missingTensorData([name]) }
        try file.write(bytes)
        entries.append(
          (.init(name: name, dtype: .u8, shape: [Int64(bytes.count)]), offset..<(offset + Int64(bytes.count))))
        offset += Int64(bytes.count)
      }
      var json = Array(Self.headerText(entries.map { Self.entry($0.0, $0.1) }, metadata: metadata).utf8)
      guard json.count <= headerLength else { throw SafetensorsError.headerTooLarge(length: UInt64(json.count)) }
      json += [UInt8](repeating: 0x20, count: headerLength - json.count)
      let length = UInt64(headerLength)
      let prefix = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
      try file.write(prefix + json, at: 0)
      try Self.verify(URL(fileURLWithPath: file.temporaryPath), entries: entries)
      try file.commit()
    } catch let error as SafetensorsError {
      file.discard()
      throw error
    } catch let error as FileAccessError {
      file.discard()
      throw .file(error)
    } catch {
      file.discard()
      throw .io(path: url.path, reason: "\(error)")
    }
  }

  /// The written file, read back: its header must list exactly `entries`.
  private static func verify(_ url: URL, entries: [(SafetensorsTensorSpec, Range<Int64>)]) throws(SafetensorsError) {
    let header = try SafetensorsFile(url: url).header
    guard header.tensors.count == entries.count else {
      throw .io(
        path: url.path, reason: "the written header lists \(header.tensors.count) tensors, not \(entries.count)")
    }
    for (spec, range) in entries {
      guard let info = header.tensor(named: spec.name), info.dtype == spec.dtype, info.shape == spec.shape,
        info.dataOffsets == range
      else { throw .io(path: url.path, reason: "the written header does not match tensor '\(spec.name)'") }
    }
  }

  private static func entry(_ spec: SafetensorsTensorSpec, _ range: Range<Int64>) -> String {
    let shape = spec.shape.map(String.init).joined(separator: ",")
    return
      "\(quoted(spec.name)):{\"dtype\":\"\(spec.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(range.lowerBound),\(range.upperBound)]}"
  }

  private static func headerText(_ entries: [String], metadata: [String: String]) -> String {
    var all: [String] = []
    if !metadata.isEmpty {
      let fields = metadata.sorted { $0.key < $1.key }.map { "\(quoted($0.key)):\(quoted($0.value))" }
      all.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
    }
    return "{\((all + entries).joined(separator: ","))}"
  }

  /// `text` as a JSON string literal (quotes, backslashes and control characters escaped).
  public static func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": result += "\\\""
      case "\\": result += "\\\\"
      case "\n": result += "\\n"
      case "\r": result += "\\r"
      case "\t": result += "\\t"
      case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
      default: result.unicodeScalars.append(scalar)
      }
    }
    return result + "\""
  }
}

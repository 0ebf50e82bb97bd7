// libFuzzer harness: the safetensors header-length check, header JSON and tensor table.
// Built by Tests/Fuzz/run.sh; not part of the SwiftPM package.
//
// Each input is used twice:
//   1. as a whole file: the 8-byte length prefix is checked against the input's size, then the
//      header it delimits is parsed (what SafetensorsFile.init does, without the disk);
//   2. as the header JSON alone, in a file whose data section is 1 MiB (so that the fuzzer
//      does not have to guess a length prefix to reach the tensor-table checks).
// An accepted header must describe tensors inside the data section, sorted, disjoint, each
// spanning exactly product(shape) x dtype size bytes.
import Foundation
import Safetensors

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let bytes = [UInt8](UnsafeBufferPointer(start: start, count: count))
  let fileSize = Int64(count)
  if let length = try? SafetensorsHeader.validatedHeaderLength(bytes, fileSize: fileSize) {
    require(length >= 0 && 8 + length <= count, "header length \(length) passed for a \(count)-byte file")
    if let header = try? SafetensorsHeader(json: Array(bytes[8..<(8 + length)]), fileSize: fileSize) {
      check(header, fileSize: fileSize)
    }
  }
  let virtualSize = 8 + fileSize + (1 << 20)
  if let header = try? SafetensorsHeader(json: bytes, fileSize: virtualSize) {
    check(header, fileSize: virtualSize)
  }
  return 0
}

private func check(_ header: SafetensorsHeader, fileSize: Int64) {
  let dataSize = fileSize - header.dataStart
  require(dataSize >= 0, "data section of \(dataSize) bytes")
  var end: Int64 = 0
  for info in header.tensors {
    require(info.dataOffsets.lowerBound >= end, "tensor \(info.name) overlaps or is out of order")
    require(info.dataOffsets.upperBound <= dataSize, "tensor \(info.name) ends past the data")
    var bytes = info.dtype.byteSize
    for dimension in info.shape {
      require(dimension >= 0, "negative dimension")
      let (product, overflow) = bytes.multipliedReportingOverflow(by: dimension)
      require(!overflow, "tensor \(info.name) size overflows but was accepted")
      bytes = product
    }
    require(bytes == info.byteCount, "tensor \(info.name) spans \(info.byteCount) bytes, needs \(bytes)")
    require(info.elementCount * info.dtype.byteSize == bytes, "element count disagrees")
    require(header.tensor(named: info.name) != nil, "lookup by name fails")
    end = info.dataOffsets.upperBound
  }
}

/// Reports a broken invariant with its message (kept in optimized builds) and aborts.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
  guard !condition else { return }
  FileHandle.standardError.write(Data("fuzz invariant broken: \(message())\n".utf8))
  abort()
}

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
    let json = Array(bytes[8..<(8 + length)])
    if let header = try? SafetensorsHeader(json: json, fileSize: fileSize) {
      check(header, fileSize: fileSize)
      agreesWithJSONSerialization(header, json)
    }
  }
  let virtualSize = 8 + fileSize + (1 << 20)
  if let header = try? SafetensorsHeader(json: bytes, fileSize: virtualSize) {
    check(header, fileSize: virtualSize)
    agreesWithJSONSerialization(header, bytes)
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
    // A zero dimension makes the tensor empty, whatever the product of the others.
    var bytes = info.shape.contains(0) ? 0 : info.dtype.byteSize
    for dimension in info.shape where bytes > 0 {
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

/// The header scanner against Foundation's JSON parser: a header it accepts is a JSON object
/// there too, with the same tensor names (the scanner refuses duplicates, which JSON keeps).
private func agreesWithJSONSerialization(_ header: SafetensorsHeader, _ json: [UInt8]) {
  guard let object = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any] else {
    return require(false, "the scanner accepted a header JSONSerialization refuses")
  }
  let names = Set(object.keys).subtracting(["__metadata__"])
  require(names == Set(header.tensors.map(\.name)), "tensor names differ from JSONSerialization's keys")
}

/// Reports a broken invariant with its message (kept in optimized builds) and aborts.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
  guard !condition else { return }
  FileHandle.standardError.write(Data("fuzz invariant broken: \(message())\n".utf8))
  abort()
}

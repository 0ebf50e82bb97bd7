import Foundation
import NF4Quantization
import Testing

/// One golden file of Fixtures/bnb-4bit (its README): a `quantize_4bit` + `dequantize_4bit` call of
/// bitsandbytes 0.50.2 on the CPU, every array base64 of little-endian bytes.
struct GoldenCase: Decodable, CustomTestStringConvertible {
  let name: String
  let quantType: String
  let blocksize: Int
  let doubleQuant: Bool
  let count: Int
  let inputDtype: String
  let input: Data
  let code: Data
  let packed: Data
  let dequantizedFloat32: Data
  let absmaxFloat32: Data?
  let absmaxUint8: Data?
  let offsetFloat32: Float?
  let nestedBlocksize: Int?
  let nestedAbsmaxFloat32: Data?
  let nestedCodeFloat32: Data?

  var testDescription: String { name }

  /// The golden set, kept in this test target (Fixtures/bnb-4bit/README.md).
  static let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/bnb-4bit")

  static func files(in directory: URL) -> [URL] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasSuffix(".json") }.sorted().map { directory.appendingPathComponent($0) }
  }

  static let fixtureFiles = files(in: fixtureDirectory)

  static func load(_ url: URL) throws -> GoldenCase {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(GoldenCase.self, from: Data(contentsOf: url))
  }

  var type: FourBitType { FourBitType(rawValue: quantType)! }
  var settings: QuantizationSettings {
    get throws { try QuantizationSettings(type: type, blockSize: blocksize, doubleQuantization: doubleQuant) }
  }

  /// The input as float32 (16-bit inputs widened exactly).
  var inputAsFloat: [Float] {
    switch inputDtype {
    case "float32": Self.array(input, of: Float.self)
    case "float16": Self.array(input, of: Float16.self).map(Float.init)
    default: Self.array(input, of: UInt16.self).map { BFloat16(bitPattern: $0).floatValue }
    }
  }

  /// Reinterprets little-endian bytes as an array.
  static func array<T>(_ data: Data, of _: T.Type) -> [T] {
    data.withUnsafeBytes { raw in
      (0..<(raw.count / MemoryLayout<T>.size)).map {
        raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)
      }
    }
  }

  /// Bit patterns of float32 arrays, for exact comparison (NaN included).
  static func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }
}

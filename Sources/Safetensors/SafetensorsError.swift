import FileSafety

/// Why a safetensors file could not be read or written. Each message is one line that names the
/// tensor or field and the offending value.
public enum SafetensorsError: Error, Equatable, CustomStringConvertible {
  /// The file is shorter than the 8-byte header length.
  case fileTooSmall(size: Int64)
  /// The header length points past the end of the file.
  case headerLengthBeyondFile(length: UInt64, fileSize: Int64)
  /// The header length is over the format's 100,000,000-byte limit.
  case headerTooLarge(length: UInt64)
  /// The header bytes are not UTF-8.
  case headerNotUTF8
  /// The header is not a JSON object.
  case headerNotJSON(reason: String)
  /// A field of a tensor entry is missing or of the wrong kind.
  case invalidField(tensor: String, field: String, value: String)
  /// More tensors than ``SafetensorsHeader/maximumTensorCount``.
  case tooManyTensors(limit: Int)
  /// A dtype this reader does not know.
  case unknownDType(tensor: String, dtype: String)
  /// Shape times element size does not fit in 64 bits.
  case sizeOverflow(tensor: String, shape: [Int64])
  /// `data_offsets` do not span exactly the bytes the shape and dtype need.
  case offsetsMismatchShape(tensor: String, offsets: [Int64], expectedBytes: Int64)
  /// `data_offsets` end past the data section.
  case offsetsOutOfRange(tensor: String, end: Int64, dataSize: Int64)
  /// Two tensors' byte ranges overlap.
  case overlappingTensors(String, String)
  /// `__metadata__` is not an object of strings.
  case invalidMetadata(key: String)
  /// No tensor of this name in the file.
  case unknownTensor(String)
  /// The file ended before a tensor's bytes did.
  case truncated(tensor: String, expectedBytes: Int64, readBytes: Int64)
  /// A file system error.
  case io(path: String, reason: String)
  /// A file that cannot be opened, read or written (the errno reason in words).
  case file(FileAccessError)
  /// The writer was given a tensor name twice.
  case duplicateTensor(String)
  /// The writer expected the data of another tensor next.
  case outOfOrderWrite(expected: String, actual: String)
  /// The writer was given the wrong number of bytes for a tensor.
  case byteCountMismatch(tensor: String, expected: Int64, actual: Int64)
  /// The writer was finished before every tensor's data was written.
  case missingTensorData([String])

  public var description: String {
    switch self {
    case .fileTooSmall(let size):
      "Not a safetensors file: \(size) bytes, fewer than the 8-byte header length."
    case .headerLengthBeyondFile(let length, let fileSize):
      "Header length \(length) is beyond the end of the file (\(fileSize) bytes)."
    case .headerTooLarge(let length):
      "Header length \(length) exceeds the 100000000-byte limit."
    case .headerNotUTF8:
      "The header is not valid UTF-8."
    case .headerNotJSON(let reason):
      "The header is not a JSON object: \(reason)"
    case .invalidField(let tensor, let field, let value):
      "Tensor '\(tensor)': invalid '\(field)' \(value)."
    case .tooManyTensors(let limit):
      "The header lists more than \(limit) tensors, the reader's limit."
    case .unknownDType(let tensor, let dtype):
      "Tensor '\(tensor)': unknown dtype '\(dtype)'."
    case .sizeOverflow(let tensor, let shape):
      "Tensor '\(tensor)': shape \(shape) overflows a 64-bit byte count."
    case .offsetsMismatchShape(let tensor, let offsets, let expectedBytes):
      "Tensor '\(tensor)': data_offsets \(offsets) do not span the \(expectedBytes) bytes its shape and dtype need."
    case .offsetsOutOfRange(let tensor, let end, let dataSize):
      "Tensor '\(tensor)': data_offsets end at \(end), past the \(dataSize)-byte data section."
    case .overlappingTensors(let first, let second):
      "Tensors '\(first)' and '\(second)' overlap in the data section."
    case .invalidMetadata(let key):
      "__metadata__ entry '\(key)' is not a string."
    case .unknownTensor(let name):
      "No tensor named '\(name)'."
    case .truncated(let tensor, let expectedBytes, let readBytes):
      "Tensor '\(tensor)': the file ends after \(readBytes) of its \(expectedBytes) bytes."
    case .io(let path, let reason):
      "Cannot access '\(path)': \(reason)"
    case .file(let error):
      error.description
    case .duplicateTensor(let name):
      "Tensor '\(name)' is listed twice."
    case .outOfOrderWrite(let expected, let actual):
      "Wrote tensor '\(actual)' but the next in the header is '\(expected)'."
    case .byteCountMismatch(let tensor, let expected, let actual):
      "Tensor '\(tensor)': got \(actual) bytes, its shape and dtype need \(expected)."
    case .missingTensorData(let names):
      "No data was written for \(names.count) tensor(s), first '\(names.first ?? "")'."
    }
  }
}

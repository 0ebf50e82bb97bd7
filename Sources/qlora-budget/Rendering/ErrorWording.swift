import FileSafety
import NF4Quantization
import Safetensors

/// Library errors in the CLI's words: where a library error says what to change in neutral
/// terms, the message names the flag that changes it.
enum ErrorWording {
  /// The flag that allows replacing an existing output.
  static let replaceFlag = "--force"

  static func words(_ error: any Error) -> String {
    switch error {
    case let error as FileAccessError: return error.described(replaceOption: replaceFlag)
    case SafetensorsError.file(let error): return error.described(replaceOption: replaceFlag)
    case let error as QuantizationError: return error.described(remedy: words)
    default: return "\(error)"
    }
  }

  static func words(_ remedy: QuantizationRemedy) -> String {
    switch remedy {
    case .withoutDoubleQuantization: "use --double-quant false"
    }
  }
}

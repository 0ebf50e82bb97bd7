/// A Hugging Face Hub model id as people write it: `Qwen/Qwen3-14B`, `meta-llama/Llama-3.1-8B`.
///
/// Only ids the Hub accepts are accepted (an owner and a name of letters, digits, `-`, `_`, `.`,
/// at most 96 characters each, not `.` or `..`), so an id can name a cache folder and a URL path
/// without escaping.
public struct HubModelID: Hashable, Sendable, CustomStringConvertible {
  public let owner: String
  public let name: String

  /// Nil when `text` is not `OWNER/NAME` in the Hub's alphabet.
  public init?(_ text: String) {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, parts.allSatisfy(Self.isValidPart) else { return nil }
    owner = String(parts[0])
    name = String(parts[1])
  }

  public var description: String { "\(owner)/\(name)" }

  /// The folder huggingface_hub keeps the model in: `models--OWNER--NAME`.
  public var cacheFolderName: String { "models--\(owner)--\(name)" }

  private static func isValidPart(_ part: Substring) -> Bool {
    guard !part.isEmpty, part.count <= 96, part != ".", part != "..", !part.hasPrefix("-") else { return false }
    return part.unicodeScalars.allSatisfy { scalar in
      scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-_.".unicodeScalars.contains(scalar))
    }
  }
}

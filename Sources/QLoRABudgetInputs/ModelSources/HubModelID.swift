import QLoRABudget

/// A Hugging Face Hub model id as people write it: `Qwen/Qwen3-14B`, `meta-llama/Llama-3.1-8B`.
///
/// Only ids the Hub accepts are accepted, by huggingface_hub's `validate_repo_id`: an owner and
/// a name of ASCII letters, digits, `-`, `_`, `.`, 1 to 96 characters each, each starting and
/// ending with a letter, digit or `_`; no `--` or `..` anywhere (so `x--y/z` and `x/y--z`
/// cannot share the cache folder `models--x--y--z`); not ending in `.git`. An id can then name
/// a cache folder and a URL path without escaping.
public struct HubModelID: Hashable, Sendable, CustomStringConvertible {
  public let owner: String
  public let name: String

  /// Nil when `text` is not `OWNER/NAME` in the Hub's alphabet.
  public init?(_ text: String) {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, parts.allSatisfy(Self.isValidPart), !text.contains("--"), !text.contains(".."),
      !text.hasSuffix(".git")
    else { return nil }
    owner = String(parts[0])
    name = String(parts[1])
  }

  public var description: String { "\(owner)/\(name)" }

  /// The folder huggingface_hub keeps the model in: `models--OWNER--NAME`.
  public var cacheFolderName: String { "models--\(owner)--\(name)" }

  private static func isValidPart(_ part: Substring) -> Bool {
    func isWord(_ scalar: Unicode.Scalar) -> Bool {
      scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_")
    }
    let scalars = part.unicodeScalars
    guard (1...96).contains(scalars.count), let first = scalars.first, let last = scalars.last, isWord(first),
      isWord(last)
    else { return false }
    return scalars.allSatisfy { isWord($0) || $0 == "-" || $0 == "." }
  }
}

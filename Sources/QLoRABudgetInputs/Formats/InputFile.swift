import FileSafety
import Foundation

/// A kind of file the inputs read, with the most bytes read of it: every "file to value" read
/// goes through ``contents(of:)`` (``FileSafety/ReadableFile``), so a FIFO, a device or an
/// oversized file is refused the same way whatever the file is (docs/reliability.md).
public struct InputFile: Hashable, Sendable {
  /// How the file is named in errors ("a config.json").
  public let what: String
  /// The most bytes read; a longer file is an error.
  public let limit: Int64

  /// A model's config.json (a path, a model folder's, or the HF cache's snapshot).
  public static let modelConfig = InputFile(what: "a config.json", limit: 16 << 20)
  /// A LLaMA-Factory, Axolotl or torchtune YAML, or a TrainingArguments / adapter JSON.
  public static let trainingConfig = InputFile(what: "a training config", limit: 1 << 20)
  /// A DeepSpeed config JSON (real ones are under 4 KB).
  public static let deepSpeedConfig = InputFile(what: "a DeepSpeed config", limit: 1 << 20)
  /// One preset file of a `--presets` folder.
  public static let preset = InputFile(what: "a preset", limit: 1 << 20)
  /// The HF cache's `refs/main`: one revision.
  public static let cacheRef = InputFile(what: "a cache ref", limit: 1024)

  /// The bytes of the regular file at `path` (a FIFO or device is refused at once), read at
  /// most to ``limit`` + 1 bytes (`/proc` files report a size of 0).
  public func contents(of path: String) throws(FileAccessError) -> Data {
    try ReadableFile.contents(of: path, limit: limit, what: what)
  }
}

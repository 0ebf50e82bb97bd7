import FileSafety
import Foundation

/// Whether an existing file may be replaced by a quantized checkpoint under `--force`: only a
/// previous output, recognised as a safetensors file that holds bitsandbytes 4-bit quant states
/// (which is what quantizing writes). A folder output is recognised by its manifest instead
/// (``StagingFolder``).
public enum PreviousQuantizedOutput {
  /// Throws ``FileAccessError/notAPreviousOutput(path:found:)`` when `path` is an existing
  /// regular file (links followed) that is not a 4-bit safetensors checkpoint; nothing
  /// otherwise (no file, or a folder, which ``StagingFolder`` checks).
  public static func checkReplaceable(_ path: String) throws(FileAccessError) {
    guard let status = FileStatus.of(path), FileStatus.isRegular(status) else { return }
    let found: String
    do {
      let file = try SafetensorsFile(url: URL(fileURLWithPath: path))
      guard !file.header.tensors.contains(where: { CheckpointTensorNames.quantStateOwner($0.name) != nil }) else {
        return
      }
      found = "a safetensors file without 4-bit quant states"
    } catch {
      found = "not a safetensors file"
    }
    throw .notAPreviousOutput(path: path, found: found)
  }
}

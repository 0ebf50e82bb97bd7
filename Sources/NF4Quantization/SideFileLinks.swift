import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Which links among a model folder's side files may be copied into the quantized folder.
///
/// A side file is copied as a regular file with its link target's bytes, so a link that leaves
/// the folder (`README.md -> ~/secret`) would put an unrelated file into an output made to be
/// uploaded: such a link is not copied. A link counts as inside when its fully resolved target
/// lies under the folder, or, for a Hugging Face cache snapshot (`REPO/snapshots/REV`), under
/// the same repository's `REPO/blobs/`, where huggingface_hub keeps every snapshot file's bytes.
enum SideFileLinks {
  /// The resolved target of the link `path` when it leaves `folder`; nil for a regular file or a
  /// link that stays inside.
  static func leavingTarget(of path: String, folder: String) -> String? {
    var status = stat()
    guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFLNK else { return nil }
    guard let target = resolved(path) else { return path }
    guard let root = resolved(folder) else { return target }
    var roots = [root]
    let parent = (root as NSString).deletingLastPathComponent
    if (parent as NSString).lastPathComponent == "snapshots" {
      roots.append((parent as NSString).deletingLastPathComponent + "/blobs")
    }
    return roots.contains { target.hasPrefix($0 + "/") } ? nil : target
  }

  private static func resolved(_ path: String) -> String? {
    guard let pointer = realpath(path, nil) else { return nil }
    defer { free(pointer) }
    return String(cString: pointer)
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file's identity: its device and inode. Two paths name the same file exactly when their
/// identities are equal, whatever links or `..` they go through; comparing paths does not
/// catch `link.safetensors -> in.safetensors` or hard links.
public struct FileIdentity: Hashable, Sendable {
  public let device: UInt64
  public let inode: UInt64

  init(_ status: stat) {
    device = UInt64(status.st_dev)
    inode = UInt64(status.st_ino)
  }

  /// The identity of the file `path` names, after following links; nil if it does not exist.
  public init?(path: String) {
    var status = stat()
    guard !path.isEmpty, stat(path, &status) == 0 else { return nil }
    self.init(status)
  }
}

/// `stat` (following links) and `lstat`, as optionals.
package enum FileStatus {
  package static func of(_ path: String) -> stat? {
    var status = stat()
    return stat(path, &status) == 0 ? status : nil
  }

  static func ofLink(_ path: String) -> stat? {
    var status = stat()
    return lstat(path, &status) == 0 ? status : nil
  }

  package static func isDirectory(_ status: stat) -> Bool { status.st_mode & S_IFMT == S_IFDIR }
  package static func isRegular(_ status: stat) -> Bool { status.st_mode & S_IFMT == S_IFREG }
}

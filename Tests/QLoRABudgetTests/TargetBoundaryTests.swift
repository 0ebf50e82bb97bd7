import Foundation
import Testing

/// The targets import only what docs/architecture.md allows them: the core an embedding tool
/// links has no networking, files, YAML or processes, and no library string names a CLI flag.
/// Read from the sources in this repository.
@Suite struct TargetBoundaryTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// Each library target and the modules it may import (docs/architecture.md).
  static let allowedImports: [String: Set<String>] = [
    "QLoRABudget": ["Foundation"],
    "QLoRABudgetInputs": ["Foundation", "QLoRABudget", "Safetensors", "FileSafety"],
    "QLoRABudgetValidation": ["Foundation", "QLoRABudget", "QLoRABudgetInputs", "Safetensors", "FileSafety"],
    "HubDownload": ["Foundation", "FoundationNetworking", "QLoRABudget", "QLoRABudgetInputs"],
    "NF4Quantization": ["Foundation", "Dispatch", "Glibc", "Darwin", "Safetensors", "FileSafety"],
    "Safetensors": ["Foundation", "Glibc", "Darwin", "FileSafety"],
    "FileSafety": ["Foundation", "Glibc", "Darwin"],
  ]

  static func swiftFiles(in target: String) -> [URL] {
    let folder = root.appendingPathComponent("Sources/\(target)")
    let paths = FileManager.default.enumerator(atPath: folder.path)?.compactMap { $0 as? String } ?? []
    return paths.filter { $0.hasSuffix(".swift") }.sorted().map { folder.appendingPathComponent($0) }
  }

  static func imports(in text: String) -> [String] {
    text.components(separatedBy: "\n").compactMap { line in
      let words = line.trimmingCharacters(in: .whitespaces).split(separator: " ")
      guard let index = words.firstIndex(of: "import"), index + 1 < words.count,
        words[..<index].allSatisfy({ $0.hasPrefix("@") })
      else { return nil }
      return String(words[index + 1])
    }
  }

  @Test func theImportReaderFindsImports() {
    #expect(
      Self.imports(
        in:
          "import Foundation\n#if os(Linux)\n  import FoundationNetworking\n#endif\n@testable import X\nlet importance = 1\n"
      )
        == ["Foundation", "FoundationNetworking", "X"])
  }

  @Test(arguments: allowedImports.keys.sorted()) func eachTargetImportsOnlyWhatItMay(target: String) throws {
    let files = Self.swiftFiles(in: target)
    #expect(!files.isEmpty, "no sources for \(target)")
    for file in files {
      let found = Set(Self.imports(in: try String(contentsOf: file, encoding: .utf8)))
      #expect(
        found.isSubset(of: Self.allowedImports[target]!),
        "\(file.lastPathComponent) imports \(found.subtracting(Self.allowedImports[target]!).sorted())")
    }
  }

  /// Not through Foundation either: the core never opens a file, a process or a connection.
  @Test func theCoreTouchesNoFileProcessOrNetwork() throws {
    for file in Self.swiftFiles(in: "QLoRABudget") {
      let text = try String(contentsOf: file, encoding: .utf8)
      for word in [
        "FileManager", "FileHandle", "Process(", "URLSession", "String(contentsOf", "Data(contentsOf", "YAML",
      ] {
        #expect(!text.contains(word), "\(file.lastPathComponent) uses \(word)")
      }
    }
  }

  /// No library string names a CLI flag: libraries throw typed errors, the CLI words them
  /// (nvidia-smi's own arguments are not ours).
  @Test(arguments: allowedImports.keys.sorted()) func noLibraryStringNamesAFlag(target: String) throws {
    for file in Self.swiftFiles(in: target) where file.lastPathComponent != "NvidiaSMIReport.swift" {
      for line in try String(contentsOf: file, encoding: .utf8).components(separatedBy: "\n") {
        let code = line.trimmingCharacters(in: .whitespaces)
        guard !code.hasPrefix("//") else { continue }
        let quoted = code.split(separator: "\"", omittingEmptySubsequences: false).enumerated().filter {
          $0.offset % 2 == 1
        }
        #expect(
          !quoted.contains { $0.element.range(of: #"--[a-z]"#, options: .regularExpression) != nil },
          "\(file.lastPathComponent): \(code)")
      }
    }
  }
}

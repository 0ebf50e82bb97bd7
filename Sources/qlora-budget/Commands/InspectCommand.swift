import Foundation
import QLoRABudget

/// `qlora-budget inspect PATH`: a checkpoint's tensors by role and dtype, with exact bytes.
enum InspectCommand: Command {
  static let name = "inspect"
  static let summary = "List a safetensors checkpoint's tensors by role and dtype, with bytes."
  static let arguments = "<file.safetensors|folder> [--tensors] [--json]"
  static let tensors = OptionSpec.flag("--tensors", "Also list every tensor.")
  static let json = OptionSpec.flag("--json", "Print a JSON object.")
  static let options: [OptionSpec] = [tensors, json]

  static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws -> ExitStatus {
    try arguments.expectPositionals(atMost: 1)
    let path = try arguments.positional(0, named: "file.safetensors|folder")
    guard !path.isEmpty else { throw UsageError.invalidValue(path, for: "file.safetensors|folder", "give a path") }
    let inventory = try CheckpointInventory(path: URL(fileURLWithPath: path))
    if arguments.has(json) {
      context.print(json(inventory, listTensors: arguments.has(tensors)).rendered())
    } else {
      context.print(text(inventory, path: path, listTensors: arguments.has(tensors)))
    }
    return .success
  }

  static func text(_ inventory: CheckpointInventory, path: String, listTensors: Bool) -> String {
    let total = inventory.totalBytes
    var lines = [
      "\(CommandLineTool.oneLine(path)): \(inventory.tensors.count) tensors in \(inventory.files.count) file(s), "
        + "\(NumberText.grouped(total.bytes)) bytes (\(total.formatted(.binary)), \(total.formatted(.decimal)))",
      "",
      HelpText.pad("role", 14) + HelpText.pad("dtype", 9) + EstimateText.leftPad("tensors", 8)
        + EstimateText.leftPad("elements", 18) + EstimateText.leftPad("bytes", 18),
    ]
    for group in inventory.groups {
      lines.append(
        HelpText.pad(group.role.rawValue, 14) + HelpText.pad(group.dtype.rawValue, 9)
          + EstimateText.leftPad(String(group.count), 8) + EstimateText.leftPad(NumberText.grouped(group.elements), 18)
          + EstimateText.leftPad(NumberText.grouped(group.bytes.bytes), 18))
    }
    if let bits = inventory.fourBitBitsPerParameter {
      let parameters = inventory.fourBitWeights.reduce(Int64(0)) { $0 + $1.parameters }
      let bytes = ByteCount.sum(inventory.fourBitWeights.map(\.bytes))
      lines += [
        "",
        "4-bit weights: \(inventory.fourBitWeights.count), \(NumberText.grouped(parameters)) parameters in "
          + "\(NumberText.grouped(bytes.bytes)) bytes of buffers: \(ByteCount.fixed(bits, decimals: 4)) bits per parameter",
      ]
    }
    if listTensors {
      lines.append("")
      // The name column is as wide as the longest name (bnb's quant-state names run past 56).
      let names = inventory.tensors.map { CommandLineTool.oneLine($0.name) }
      let width = max(56, (names.map(\.count).max() ?? 0) + 1)
      for (tensor, name) in zip(inventory.tensors, names) {
        lines.append(
          HelpText.pad(name, width) + HelpText.pad(tensor.role.rawValue, 14) + HelpText.pad(tensor.dtype.rawValue, 9)
            + HelpText.pad("\(tensor.shape)", 18) + EstimateText.leftPad(NumberText.grouped(tensor.bytes.bytes), 16))
      }
    }
    return lines.joined(separator: "\n")
  }

  static func json(_ inventory: CheckpointInventory, listTensors: Bool) -> JSONOutput {
    var members: [(String, JSONOutput)] = [
      ("files", .array(inventory.files.map { .string($0.path) })),
      ("tensor_count", .integer(Int64(inventory.tensors.count))),
      ("total_bytes", .bytes(inventory.totalBytes)),
      ("groups", .array(inventory.groups.map { group in
        .object([
          ("role", .string(group.role.rawValue)), ("dtype", .string(group.dtype.rawValue)),
          ("tensors", .integer(Int64(group.count))), ("elements", .integer(group.elements)), ("bytes", .bytes(group.bytes)),
        ])
      })),
    ]
    if let bits = inventory.fourBitBitsPerParameter {
      members.append(("four_bit", .object([
        ("weights", .integer(Int64(inventory.fourBitWeights.count))),
        ("parameters", .integer(inventory.fourBitWeights.reduce(Int64(0)) { $0 + $1.parameters })),
        ("bytes", .bytes(ByteCount.sum(inventory.fourBitWeights.map(\.bytes)))),
        ("bits_per_parameter", .number(bits)),
      ])))
    } else {
      members.append(("four_bit", .null))
    }
    if listTensors {
      members.append(("tensors", .array(inventory.tensors.map { tensor in
        .object([
          ("name", .string(tensor.name)), ("role", .string(tensor.role.rawValue)), ("dtype", .string(tensor.dtype.rawValue)),
          ("shape", .array(tensor.shape.map { .integer($0) })), ("bytes", .bytes(tensor.bytes)), ("file", .string(tensor.file)),
        ])
      })))
    }
    return .object(members)
  }
}

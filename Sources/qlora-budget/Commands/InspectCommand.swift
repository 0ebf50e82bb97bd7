import Foundation
import QLoRABudget
import QLoRABudgetInputs

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
    let output = BufferedOutput(context.standardOutput)
    if arguments.has(json) {
      json(inventory, listTensors: arguments.has(tensors), into: output)
    } else {
      text(inventory, path: path, listTensors: arguments.has(tensors), into: output)
    }
    output.flush()
    return .success
  }

  /// The summary, then with `listTensors` one line per tensor, written as they are made.
  static func text(_ inventory: CheckpointInventory, path: String, listTensors: Bool, into output: BufferedOutput) {
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
    output.write(lines.joined(separator: "\n"))
    if listTensors {
      output.write("\n")
      // The name column is as wide as the longest name (bnb's quant-state names run past 56).
      let width = max(56, (inventory.tensors.lazy.map { CommandLineTool.oneLine($0.name).count }.max() ?? 0) + 1)
      for tensor in inventory.tensors {
        output.write(
          "\n" + HelpText.pad(CommandLineTool.oneLine(tensor.name), width) + HelpText.pad(tensor.role.rawValue, 14)
            + HelpText.pad(tensor.dtype.rawValue, 9)
            + HelpText.pad("\(tensor.shape)", 18) + EstimateText.leftPad(NumberText.grouped(tensor.bytes.bytes), 16))
      }
    }
    output.write("\n")
  }

  /// The JSON object; the `tensors` array (with `listTensors`) is rendered one element at a
  /// time into `output`, exactly as ``JSONOutput/rendered(indent:)`` renders the whole.
  static func json(_ inventory: CheckpointInventory, listTensors: Bool, into output: BufferedOutput) {
    var members: [(String, JSONOutput)] = [
      ("files", .array(inventory.files.map { .string($0.path) })),
      ("tensor_count", .integer(Int64(inventory.tensors.count))),
      ("total_bytes", .bytes(inventory.totalBytes)),
      (
        "groups",
        .array(
          inventory.groups.map { group in
            .object([
              ("role", .string(group.role.rawValue)), ("dtype", .string(group.dtype.rawValue)),
              ("tensors", .integer(Int64(group.count))), ("elements", .integer(group.elements)),
              ("bytes", .bytes(group.bytes)),
            ])
          })
      ),
    ]
    if let bits = inventory.fourBitBitsPerParameter {
      members.append(
        (
          "four_bit",
          .object([
            ("weights", .integer(Int64(inventory.fourBitWeights.count))),
            ("parameters", .integer(inventory.fourBitWeights.reduce(Int64(0)) { $0 + $1.parameters })),
            ("bytes", .bytes(ByteCount.sum(inventory.fourBitWeights.map(\.bytes)))),
            ("bits_per_parameter", .number(bits)),
          ])
        ))
    } else {
      members.append(("four_bit", .null))
    }
    let summary = JSONOutput.object(members).rendered()
    guard listTensors else { return output.write(summary + "\n") }
    // The summary without its closing "\n}", then the tensors member.
    output.write(String(summary.dropLast(2)) + ",\n  " + JSONOutput.quoted("tensors") + ": ")
    guard !inventory.tensors.isEmpty else { return output.write("[]\n}\n") }
    output.write("[\n")
    for (index, tensor) in inventory.tensors.enumerated() {
      let element = JSONOutput.object([
        ("name", .string(tensor.name)), ("role", .string(tensor.role.rawValue)),
        ("dtype", .string(tensor.dtype.rawValue)),
        ("shape", .array(tensor.shape.map { .integer($0) })), ("bytes", .bytes(tensor.bytes)),
        ("file", .string(tensor.file)),
      ])
      output.write((index == 0 ? "    " : ",\n    ") + element.rendered(indent: 4))
    }
    output.write("\n  ]\n}\n")
  }
}

/// Text written to a stream in pieces of about 64 KiB, so a long listing is never held whole.
final class BufferedOutput {
  private let sink: (String) -> Void
  private var pending = ""

  init(_ sink: @escaping (String) -> Void) { self.sink = sink }

  func write(_ text: String) {
    pending += text
    if pending.utf8.count >= 1 << 16 { flush() }
  }

  func flush() {
    guard !pending.isEmpty else { return }
    sink(pending)
    pending = ""
  }
}

// libFuzzer harness: sizes and numbers typed by a person. Compiled into the command layer's
// module (Tests/Fuzz/run.sh), so the internal option parsers are reachable.
//
// The input is one string (invalid UTF-8 is repaired). It goes through ByteCount(parsing:),
// `--gpu` (as a capacity), and the whole-number, number, boolean, choice and
// target-list readers of the estimating options.
// Checks: an accepted size is 1 B ... 1 PB, and its formatted text parses back to within the
// two-decimal rounding of the formatting.
import Foundation
import QLoRABudget
import QLoRABudgetInputs

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSize(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
  if let size = try? ByteCount(parsing: text) {
    require(size.bytes >= 1 && size <= ByteCount.maximumParsed, "'\(text)' parsed to \(size.bytes) bytes")
    for system in ByteUnitSystem.allCases {
      let shown = size.formatted(system)
      guard let again = try? ByteCount(parsing: shown) else {
        fuzzFailure("'\(text)' -> \(size.bytes) B -> '\(shown)' does not parse back")
      }
      let error = abs(Double(again.bytes) - Double(size.bytes))
      require(error <= Double(size.bytes) * 0.005 + 1, "'\(shown)' parses to \(again.bytes), not ~\(size.bytes)")
    }
  }
  // `--gpu` with a leading digit is a capacity (preset-name lookup is the cli harness's).
  if text.first?.isNumber == true { _ = try? SetupOptions.gpu(text, presets: .bundled, environment: [:]) }
  for option in [
    "--rank", "--seq-len", "--batch", "--blocksize", "--alpha", "--lora-dropout", "--double-quant",
    "--quant", "--optimizer", "--recipe", "--targets", "--attn", "--dtype",
  ] {
    guard let arguments = try? ParsedArguments([option, text], command: "estimate", options: SetupOptions.specs) else {
      continue
    }
    if let setup = try? SetupOptions.setup(from: arguments) {
      // The estimator's own checks (e.g. a power-of-two block size) throw, never trap.
      do { try setup.validate() } catch { _ = error.description }
    }
  }
  return 0
}

/// Reports a broken invariant with its message (kept in optimized builds) and aborts.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
  if !condition { fuzzFailure(message()) }
}

func fuzzFailure(_ message: String) -> Never {
  FileHandle.standardError.write(Data("fuzz invariant broken: \(message)\n".utf8))
  abort()
}

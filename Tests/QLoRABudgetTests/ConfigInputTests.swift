import Foundation
import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// config.json values that were accepted silently: a key given twice (JSON readers keep the
/// last) and a negative `sliding_window`.
@Suite struct ConfigInputTests {
  static let base =
    #""model_type": "llama", "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100"#

  func read(_ text: String) throws -> ModelArchitecture {
    try ModelArchitecture(configData: Data(text.utf8), name: "m")
  }

  @Test(arguments: [
    (#"{"hidden_size": 64, \#(base), "hidden_size": 128}"#, "hidden_size"),
    (#"{"hidden_size": 64, \#(base), "hidden\u005fsize": 128}"#, "hidden_size"),
    (#"{"hidden_size": 64, \#(base), "rope_scaling": {"type": "linear", "factor": 2, "type": "yarn"}}"#, "type"),
    (#"{"hidden_size": 64, \#(base), "a": [{"k": 1}, {"x": {}, "x": []}]}"#, "x"),
    (#"{"hidden_size": 64, \#(base), "\ud83d\ude00": 1, "😀": 2}"#, "😀"),
  ])
  func aKeyGivenTwiceInOneObjectIsRefused(_ text: String, _ key: String) throws {
    #expect(
      throws: ArchitectureError.malformedConfig(reason: "the key '\(key)' appears twice in one object", model: "m")
    ) {
      try read(text)
    }
  }

  /// The same key in different objects, or as a value, is no duplicate.
  @Test func equalKeysInDifferentObjectsAreAccepted() throws {
    let text =
      #"{"hidden_size": 64, \#(Self.base), "text": "hidden_size", "x": {"hidden_size": 1}, "y": [{"k": 1}, {"k": 2}], "z": "\"hidden_size\""}"#
    #expect(try read(text).hiddenSize == 64)
  }

  @Test(arguments: ["-4096", "0", "10.5", "\"4096\""])
  func aSlidingWindowThatIsNotAPositiveWholeNumberIsRefused(_ value: String) throws {
    #expect(
      performing: { try read(#"{"hidden_size": 64, \#(Self.base), "sliding_window": \#(value)}"#) },
      throws: {
        guard case .invalidValue(key: "sliding_window", _, _, model: "m")? = $0 as? ArchitectureError else {
          return false
        }
        return true
      })
  }

  @Test(arguments: ["null", "4096"])
  func aSlidingWindowOfNullOrAWholeNumberIsRead(_ value: String) throws {
    #expect(try read(#"{"hidden_size": 64, \#(Self.base), "sliding_window": \#(value)}"#).hiddenSize == 64)
  }
}

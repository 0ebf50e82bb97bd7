import Foundation
import QLoRABudget
import QLoRABudgetInputs
import Testing

/// Config errors name the key that is wrong (issue 12), and module counts do not trap.
@Suite struct ConfigMessageTests {
  static func qwen3MoE(experts: Int, perToken: Int) -> Data {
    Data(
      """
      {"model_type": "qwen3_moe", "hidden_size": 4096, "intermediate_size": 12288, "num_attention_heads": 32,
       "num_key_value_heads": 4, "num_hidden_layers": 48, "vocab_size": 151936, "num_experts": \(experts),
       "num_experts_per_tok": \(perToken), "moe_intermediate_size": 1536, "head_dim": 128}
      """.utf8)
  }

  @Test func tooManyExpertsIsBlamedOnTheExpertCount() {
    // 3e6 experts x 48 layers x 3 x 4096 x 1536 = 2.7e15 parameters, over the 10^15 limit.
    #expect(
      throws: ArchitectureError.invalidValue(
        key: "num_experts", value: "3000000", reason: "the model would have more than 10^15 parameters", model: "m")
    ) {
      try ModelArchitecture(configData: Self.qwen3MoE(experts: 3_000_000, perToken: 8), name: "m")
    }
  }

  @Test func moreExpertsPerTokenThanExpertsIsRefused() {
    #expect(
      throws: ArchitectureError.invalidValue(
        key: "num_experts_per_tok", value: "8", reason: "more than the 4 experts", model: "m")
    ) {
      try ModelArchitecture(configData: Self.qwen3MoE(experts: 4, perToken: 8), name: "m")
    }
  }

  @Test func elementCountsSaturateInsteadOfTrapping() {
    let huge = LinearModule(
      path: "mlp.up_proj", inFeatures: 1 << 40, outFeatures: 1 << 40, instanceCount: 1 << 40, input: .feedForwardInput)
    #expect(huge.weightElements == Int64.max)
    #expect(ModuleInventory.weightElements([huge, huge]) == Int64.max)
    #expect(VectorParameter(path: "norm", elements: 1 << 40, instanceCount: 1 << 40)?.totalElements == Int64.max)
    // Within range the products are exact: 4096 x 14336.
    #expect(
      LinearModule(
        path: "mlp.up_proj", inFeatures: 4096, outFeatures: 14336, instanceCount: 1, input: .feedForwardInput
      ).weightElements == 58_720_256)
  }
}

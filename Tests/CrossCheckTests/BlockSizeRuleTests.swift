import NF4Quantization
import QLoRABudget
import QLoRABudgetInputs
import Testing

/// The engine cannot import the estimator, so it keeps its own list of bitsandbytes' block
/// sizes; this is where the two are held to one rule.
@Suite struct BlockSizeRuleTests {
  @Test func theEngineAndTheEstimatorAcceptTheSameBlockSizes() {
    #expect(QuantizationSettings.validBlockSizes.map(Int64.init) == TrainingSetup.blockSizes)
  }
}

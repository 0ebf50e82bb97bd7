import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// bitsandbytes' per-tensor rules, with the expected bytes written out.
@Suite struct OptimizerStateTests {
  static func group(_ elements: Int64, count: Int64 = 1) -> TrainableTensorGroup {
    TrainableTensorGroup(module: "t", elementsPerTensor: elements, tensorCount: count, dtype: .float32)
  }

  @Test func adamKeepsTwoFP32Moments() {
    let layout = OptimizerStateLayout(tensors: [Self.group(1000, count: 3)], optimizer: .adamw)
    #expect(layout.gpu == ByteCount(3 * 1000 * 8))
    #expect(layout.paged == .zero)
  }

  @Test func eightBitAppliesFromFourThousandNinetySixElements() {
    let small = OptimizerStateLayout(tensors: [Self.group(4095)], optimizer: .adamw8bit)
    #expect(small.gpu == ByteCount(4095 * 8))  // min_8bit_size: stays 32-bit, no qmaps needed
    let large = OptimizerStateLayout(tensors: [Self.group(4096)], optimizer: .adamw8bit)
    // two uint8 moments + two fp32 absmax per 256 elements + the two shared 256-entry fp32 maps
    #expect(large.gpu == ByteCount(2 * 4096 + 2 * 16 * 4 + 2048))
  }

  @Test func eightBitAbsmaxRoundsUpAPartialBlock() {
    let layout = OptimizerStateLayout(tensors: [Self.group(5000)], optimizer: .adamw8bit)
    #expect(layout.gpu == ByteCount(2 * 5000 + 2 * 20 * 4 + 2048))  // ceil(5000/256) = 20
  }

  @Test func pagingStartsAtOneHundredThousandElements() {
    let layout = OptimizerStateLayout(tensors: [Self.group(99_999), Self.group(100_000)], optimizer: .pagedAdamw)
    #expect(layout.gpu == ByteCount(99_999 * 8))
    #expect(layout.paged == ByteCount(100_000 * 8))
  }

  @Test func pagedEightBitPagesMomentsButKeepsAbsmaxOnTheGPU() {
    let layout = OptimizerStateLayout(tensors: [Self.group(262_144)], optimizer: .pagedAdamw8bit)
    #expect(layout.paged == ByteCount(2 * 262_144))
    #expect(layout.gpu == ByteCount(2 * 1024 * 4 + 2048))
  }

  @Test func sgdVariants() {
    #expect(OptimizerStateLayout(tensors: [Self.group(10)], optimizer: .sgd).gpu == .zero)
    #expect(OptimizerStateLayout(tensors: [Self.group(10)], optimizer: .sgdMomentum).gpu == ByteCount(40))
  }
}

import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

/// A Swift tool that embeds the library cannot be crashed by a value: the public initializers
/// and functions that trapped on a negative count or a zero block size now give the
/// ``ByteCount/overflow`` marker (which every estimate refuses) or nil.
@Suite struct LibraryAPITests {
  @Test func negativeByteCountsAreTheOverflowMarkerNotATrap() {
    #expect(ByteCount(-1).isOverflow)
    #expect(ByteCount(Int64.min).isOverflow)
    #expect(ByteCount(exactly: -1) == nil)
    #expect(ByteCount(exactly: 0)?.bytes == 0)
    #expect(ByteCount(exactly: 5)?.bytes == 5)
    #expect(ByteCount.elements(-1, bytesEach: 4).isOverflow)
    #expect(ByteCount.elements(4, bytesEach: -1).isOverflow)
    #expect(ByteCount.kibibytes(-1).isOverflow)
    #expect(ByteCount.mebibytes(-1).isOverflow)
    #expect(ByteCount.gibibytes(-1).isOverflow)
    #expect(ByteCount.gigabytes(-1).isOverflow)
    #expect((-3 * ByteCount(8)).isOverflow)
    // The marker absorbs: a sum with it is never a plausible figure.
    #expect((ByteCount(-1) + ByteCount(100)).isOverflow)
    // Valid values are unchanged: 3 x 8 bytes, 2 KiB.
    #expect((3 * ByteCount(8)).bytes == 24)
    #expect(ByteCount.kibibytes(2).bytes == 2048)
  }

  @Test(arguments: [(Int64(-1), Int64(64)), (4096, 0), (4096, -64), (-1, 0)])
  func invalidFourBitShapesGiveTheOverflowMarker(_ elements: Int64, _ blockSize: Int64) {
    for doubleQuantization in [false, true] {
      #expect(
        FourBitWeightBuffers(elementCount: elements, blockSize: blockSize, doubleQuantization: doubleQuantization).total
          .isOverflow)
    }
    #expect(TorchAONF4Buffers(elementCount: elements, blockSize: blockSize, dtype: .bfloat16).total.isOverflow)
  }

  /// A valid shape still gives the written-out bytes: 4,096 elements in blocks of 64 without DQ
  /// are 2,048 packed bytes + 64 float32 absmax (256) + a 16-entry float32 code (64).
  @Test func aValidFourBitShapeIsUnchanged() {
    #expect(
      FourBitWeightBuffers(elementCount: 4096, blockSize: 64, doubleQuantization: false).total.bytes == 2048 + 256 + 64)
  }

  @Test func negativeVectorParameterCountsAreRefused() {
    #expect(VectorParameter(path: "norm", elements: -5, instanceCount: 2) == nil)
    #expect(VectorParameter(path: "norm", elements: 5, instanceCount: -2) == nil)
    #expect(VectorParameter(path: "norm", elements: 5, instanceCount: 2)?.totalElements == 10)
  }
}

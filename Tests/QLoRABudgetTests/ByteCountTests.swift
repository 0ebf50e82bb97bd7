import Testing

@testable import QLoRABudget
@testable import QLoRABudgetInputs

@Suite struct ByteCountTests {
  @Test(
    arguments: [
      ("24GiB", 24 * 1_073_741_824), ("24GB", 24_000_000_000), ("81559MiB", 81559 * 1_048_576),
      ("1.5 TB", 1_500_000_000_000), ("512kib", 512 * 1024), ("100B", 100),
    ] as [(String, Int64)])
  func parsesSizesWithExplicitUnits(_ text: String, _ bytes: Int64) throws {
    #expect(try ByteCount(parsing: text) == ByteCount(bytes))
  }

  @Test(arguments: [
    "24", "24G", "24 g", "-24GB", "0GB", "nanGB", "infGB", "24 GBs", "", "GB", "1e3GB", "24b", "2000TB",
  ])
  func refusesAmbiguousOrInvalidSizes(_ text: String) {
    #expect(throws: ByteCountParseError.self) { try ByteCount(parsing: text) }
  }

  @Test func aBareNumberShowsBothSpellings() {
    let message = ByteCountParseError.missingUnit("24").description
    #expect(message.contains("24GiB") && message.contains("24GB"))
  }

  @Test func formatsWithExplicitUnits() {
    let bytes = ByteCount(16_060_522_496)
    #expect(bytes.formatted(.binary) == "14.96 GiB")
    #expect(bytes.formatted(.decimal) == "16.06 GB")
    #expect(ByteCount(512).formatted(.binary) == "512 B")
    #expect(ByteCount(1536).formatted(.binary) == "1.50 KiB")
  }

  @Test func overflowAbsorbsInsteadOfTrapping() {
    let huge = ByteCount(Int64.max / 2 + 1)
    #expect((huge + huge).isOverflow)
    #expect((3 * huge).isOverflow)
    #expect((ByteCount.overflow + ByteCount(1)).isOverflow)
    #expect(ByteCount.elements(Int64.max / 2, bitsEach: 4).isOverflow)
    #expect(ByteCount.elements(3, bitsEach: 4) == ByteCount(2))  // odd count pads one nibble
  }

  @Test func fourBitBuffersMatchTheQLoRAPaperBitsPerParameter() {
    // One 4096 x 4096 weight: 4.5 bits/param without DQ; 4 + 8/64 + 32/(64*256) (+ constants) with DQ.
    let n: Int64 = 4096 * 4096
    let plain = FourBitWeightBuffers(elementCount: n, blockSize: 64, doubleQuantization: false)
    #expect(plain.total == ByteCount(n / 2 + 4 * (n / 64) + 64))
    let dq = FourBitWeightBuffers(elementCount: n, blockSize: 64, doubleQuantization: true)
    #expect(dq.total == ByteCount(n / 2 + n / 64 + 4 * (n / 64 / 256) + 1024 + 4 + 64))
  }
}

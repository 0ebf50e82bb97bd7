extension MemoryEstimator {
  /// The bytes of the bitsandbytes 4-bit buffers (packed codes and quant state) of a checkpoint
  /// in which every decoder linear weight is quantized, MoE experts included, routers not (what
  /// `quantize` writes, and what transformers 4.x or Unsloth load), with the block size and
  /// double quantization of `setup`: the sum of ``FourBitWeightBuffers`` over the weights.
  /// `quantize-check` holds it against the buffers the engine actually makes.
  public static func checkpointFourBitBytes(model: ModelArchitecture, setup: TrainingSetup) -> ByteCount {
    let linears = model.inventory.linears(in: [.projection, .expert])
    return ByteCount.sum(
      linears.map { module in
        module.instanceCount
          * FourBitWeightBuffers(
            elementCount: module.weightElements, blockSize: setup.blockSize,
            doubleQuantization: setup.usesDoubleQuantization
          ).total
      })
  }
}

/// The 4-bit engine: NF4/FP4 blockwise quantization bit-compatible with bitsandbytes (see docs/nf4-format.md).
public enum NF4Quantization {}

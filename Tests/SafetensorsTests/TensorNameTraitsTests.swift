import Safetensors
import Testing

/// `CheckpointTensorNames.traits` (one pass over a name's UTF-8 bytes) against the rules written
/// out here on `split`: the module path is the non-empty dot-separated components but the last;
/// embedding if any path component is an embedding module; output head if the module (the
/// path's last component) is one and, for `output`, the path has at most 2 components; router
/// if the module is `gate` or `router`; norm-like if the lower-cased module contains `norm` or
/// starts with `ln`.
@Suite struct TensorNameTraitsTests {
  static let names = [
    "model.layers.0.mlp.up_proj.weight", "model.embed_tokens.weight", "lm_head.weight", "output.weight",
    "model.output.weight", "model.decoder.output.weight", "gpt_neox.embed_out.weight", "transformer.wte.weight",
    "model.layers.3.block_sparse_moe.gate.weight", "model.layers.3.mlp.router.weight", "model.norm.weight",
    "model.layers.0.input_layernorm.weight", "transformer.ln_f.bias", "model.layers.0.LayerNorm.weight",
    "model.layers.0.RMSNORM.weight", "a..b.weight", "..lm_head..weight.", "weight", "", ".", "...",
    "embed_tokens", "embed_tokens.weight", "x.embed_tokens.y.z.weight", "lm_head", "gate.weight", "x.Gate.weight",
    "x.lnorm.weight", "x.nor.weight", "x.ln.weight", "x.LN.weight", "x.l.weight", "é.norm.weight", "模型.lm_head.weight",
    "model.layers.0.mlp.up_proj.weight.absmax", "shared.weight", "encoder.shared.x.weight", "x.output.y.output.weight",
  ]

  static func expected(_ name: String) -> CheckpointTensorNames.Traits {
    let path = name.split(separator: ".").dropLast().map(String.init)
    var traits = CheckpointTensorNames.Traits()
    traits.isEmbedding = path.contains { CheckpointTensorNames.embeddingModules.contains($0) }
    if let module = path.last {
      traits.isOutputHead =
        CheckpointTensorNames.outputHeadModules.contains(module) && (path.count <= 2 || module != "output")
      traits.isRouter = CheckpointTensorNames.routerModules.contains(module)
      traits.isNormModule = module.lowercased().contains("norm") || module.lowercased().hasPrefix("ln")
    }
    return traits
  }

  @Test(arguments: names)
  func traitsFollowTheRulesOnSplitNames(name: String) {
    #expect(CheckpointTensorNames.traits(name) == Self.expected(name))
  }

  @Test func theWrappersAgree() {
    for name in Self.names {
      let traits = CheckpointTensorNames.traits(name)
      #expect(CheckpointTensorNames.isEmbedding(name) == traits.isEmbedding, "\(name)")
      #expect(CheckpointTensorNames.isOutputHead(name) == traits.isOutputHead, "\(name)")
      #expect(CheckpointTensorNames.isRouter(name) == traits.isRouter, "\(name)")
    }
  }

  /// `hasSuffix` (one `memcmp` on the bytes) against the suffix test on the UTF-8 view it
  /// replaced, including names shorter than the suffix, a combining accent after the suffix
  /// (Character-wise `String.hasSuffix` would differ there), digits and a 10,000-byte name.
  @Test func suffixesOnBytesAgreeWithTheUTF8View() {
    let names =
      Self.names + [
        ".weight", ".bias", "bias", "eight", "x.weight\u{301}", "x.bias.weight", "x.weight.bias", "0.1.2.bias",
        "模型.bias", "é.weight", String(repeating: "layers.0.", count: 1_111) + "x.weight",
      ]
    for name in names {
      for suffix: StaticString in [".weight", ".bias"] {
        let expected = name.utf8.reversed().starts(with: "\(suffix)".utf8.reversed())
        #expect(CheckpointTensorNames.hasSuffix(name, suffix) == expected, "\(name) \(suffix)")
      }
    }
    #expect(CheckpointTensorNames.hasSuffix("m.layers.0.up_proj.weight", ".weight"))
    #expect(!CheckpointTensorNames.hasSuffix("x.weight\u{301}", ".weight"))
    #expect(!CheckpointTensorNames.hasSuffix("bias", ".bias"))
  }

  @Test func quantStateOwnersOnBytes() {
    #expect(CheckpointTensorNames.quantStateOwner("m.weight.absmax") == "m.weight")
    #expect(CheckpointTensorNames.quantStateOwner("a.weight.b.weight.quant_map") == "a.weight.b.weight")
    #expect(CheckpointTensorNames.quantStateOwner("m.weight.quant_state.bitsandbytes__nf4") == "m.weight")
    #expect(CheckpointTensorNames.quantStateOwner("é.weight.nested_absmax") == "é.weight")
    #expect(CheckpointTensorNames.quantStateOwner("m.weight.other") == nil)
    #expect(CheckpointTensorNames.quantStateOwner(".weight.") == nil)
    #expect(CheckpointTensorNames.quantStateOwner("m.weight") == nil)
  }
}

"""Whether CPU SDPA's output is laid out like the query: a query viewed from `b x s x heads x d`
(elementwise rotary) gives an output whose transpose(1, 2) is contiguous; a contiguous
`b x heads x s x d` query (Phi-3's cat rotary) gives one whose transpose needs a copy."""
import json
import torch
import torch.nn.functional as F

def transposed_is_contiguous(query_from_projection):
    b, s, h, d = 2, 512, 32, 96
    if query_from_projection:
        q = torch.randn(b, s, h, d).transpose(1, 2)
    else:
        q = torch.randn(b, h, s, d)
    k, v = torch.randn(b, h, s, d), torch.randn(b, h, s, d)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).is_contiguous()

print(json.dumps({"torch": torch.__version__,
                  "output_transposed_is_contiguous": {"query_viewed_from_projection": transposed_is_contiguous(True),
                                                     "query_contiguous_b_h_s_d": transposed_is_contiguous(False)}}))

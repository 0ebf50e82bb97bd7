# The router's LoRA-merged weight under peft's MoE rewrite (peft 0.21.2 ParamWrapper, `_LoraParameterProxy`):
# a one-layer qwen3-moe-tiny (Tests/Calibration/measured/measure_step.py's shape, 16-bit base, r = 8,
# all-linear, 256 tokens), one forward under a saved_tensors_hooks walk, with and without bf16 autocast.
# Run: python3 router_merged_walk.py (torch 2.15, transformers 5.25, peft 0.21.2; CPU, under a minute).
# Output (both): among the saved tensors with a 16 x 1024 shape, ((1024, 16), torch.bfloat16, 32768):
# F.linear's saved weight, the merged `E x hidden` router weight (transposed view), 16 x 1,024 x 2 B.
import torch, gc
from transformers import AutoConfig, AutoModelForCausalLM
from peft import LoraConfig, get_peft_model
from torch.autograd.graph import saved_tensors_hooks
kw = dict(vocab_size=1000, hidden_size=1024, intermediate_size=2816, moe_intermediate_size=512, num_hidden_layers=1, num_attention_heads=16, num_key_value_heads=4, head_dim=64, num_experts=16, num_experts_per_tok=4, norm_topk_prob=True, tie_word_embeddings=False)
cfg = AutoConfig.for_model("qwen3_moe", **kw)
m = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
pm = get_peft_model(m, LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=16, target_modules="all-linear", lora_dropout=0.0))
pm.train()
for n, p in pm.named_parameters():
    if p.requires_grad and "gate" in n and "experts" not in n and "proj" not in n: print("trainable", n, tuple(p.shape), p.dtype)
ids = torch.randint(0, 1000, (1, 256))
params = {p.untyped_storage().data_ptr() for p in pm.parameters()}
saved = []
def pack(t):
    if t.untyped_storage().data_ptr() not in params: saved.append((tuple(t.shape), t.dtype, t.untyped_storage().nbytes()))
    return t
for amp in (True, False):
    saved.clear()
    with saved_tensors_hooks(pack, lambda t: t), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        loss = pm(input_ids=ids, labels=ids).loss
    print("autocast", amp, [s for s in saved if 16 in s[0] and 1024 in s[0]])
    del loss

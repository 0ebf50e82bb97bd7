"""Records the training steps of fms-acceleration's baseline-peft-bnb run (rows p2-045 / p2-047:
Mistral-7B-v0.1, transformers 4.45.2, peft 0.13.2, bitsandbytes 0.43.3, torch 2.4.1; flash attention,
reentrant gradient checkpointing, bf16 autocast as accelerate wraps the forward, TRL's dtypes: fp32 norms
and adapters, bf16 embed_tokens and lm_head) on the meta device with the allocator study's metatrace.py,
a warm-up step then the measured one, and replays them through its allocsim.py, after the loading of a
schedule that ScheduleDumpTests writes (QLORA_BUDGET_DUMP_SCHEDULES=<dir>, `<id>.txt`).

GPU-only behaviour is added by hand: autocast (F.linear casts fp32 operands to bf16, as autocast's
lower-precision list does; torch.is_autocast_enabled answers as on the GPU), flash-attn 2 (out and
softmax_lse; backward dq/dk/dv, softmax_d and the fp32 dq_accum), CUDA's native_dropout (output and a
bool mask), bitsandbytes 0.43.3's dequantize_4bit with double quantization (fp32 absmax, then the bf16
weight). Needs those versions from PyPI (torch 2.4.1's PyPI wheel imports without a GPU).

  python3 fms_baseline_trace.py <the study's tools/allocator folder> LAYERS BATCH OUT.json [SCHEDULE.txt]
"""
import sys, json, math, os, types
sys.path.insert(0, sys.argv[1])
import torch, torch.nn as nn, torch.nn.functional as F
from metatrace import Tracker
import bitsandbytes as bnb
import bitsandbytes.functional as bnbF
from bitsandbytes.functional import QuantState
from transformers import AutoConfig, AutoModelForCausalLM
import transformers.models.mistral.modeling_mistral as mm
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

LAYERS = int(sys.argv[2]); BATCH = int(sys.argv[3]); OUT = sys.argv[4]
META = torch.device("meta")
BF16 = torch.bfloat16

_fake = types.ModuleType("torch.meta"); _fake._initialized = False; _fake.device_count = lambda: 0
torch.meta = _fake
import contextlib
_autocast = torch.autocast
def _ac(device_type=None, *a, **k):
    return contextlib.nullcontext() if device_type == "meta" else _autocast(device_type, *a, **k)
torch.autocast = _ac
# --- emulated autocast ---
AC = {"on": False}
torch.is_autocast_enabled = lambda *a, **k: AC["on"]
torch.get_autocast_gpu_dtype = lambda: BF16
_linear = F.linear
def linear(x, w, b=None):
    if AC["on"]:
        if x.dtype == torch.float32: x = x.to(BF16)
        if w.dtype == torch.float32: w = w.to(BF16)
        if b is not None and b.dtype == torch.float32: b = b.to(BF16)
    return _linear(x, w, b)
F.linear = linear
torch.nn.functional.linear = linear

# --- CUDA native_dropout ---
class Dropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p):
        out = torch.empty_like(x)
        mask = torch.empty(x.shape, dtype=torch.bool, device=x.device)
        ctx.save_for_backward(mask)
        return out
    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return torch.empty_like(g), None
_dropout = F.dropout
def dropout(x, p=0.5, training=True, inplace=False):
    if not training or p == 0: return x
    return Dropout.apply(x, p)
F.dropout = dropout
torch.nn.functional.dropout = dropout

# --- flash-attn 2 ---
class Flash(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v):
        b, s, h, d = q.shape
        out = torch.empty_like(q)
        lse = torch.empty((b, h, s), dtype=torch.float32, device=q.device)
        rng = torch.empty(2, dtype=torch.int64, device=q.device)
        ctx.save_for_backward(q, k, v, out, lse, rng)
        return out
    @staticmethod
    def backward(ctx, g):
        q, k, v, out, lse, rng = ctx.saved_tensors
        b, s, h, d = q.shape
        g = g.contiguous()
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        sr = math.ceil(s / 128) * 128
        softmax_d = torch.empty((b, h, sr), dtype=torch.float32, device=q.device)
        acc = torch.empty((b, sr, h, d), dtype=torch.float32, device=q.device)
        del acc, softmax_d
        return dq, dk, dv
def flash_forward(q, k, v, attention_mask, q_len, **kw):
    return Flash.apply(q, k, v)
mm._flash_attention_forward = flash_forward

# --- bnb 0.43.3 dequantize_4bit (double quant) ---
def dequantize_4bit(A, quant_state=None, absmax=None, out=None, blocksize=64, quant_type="fp4"):
    n = quant_state.shape[0] * quant_state.shape[1]
    a = torch.empty((n // 64,), dtype=torch.float32, device=A.device)
    o = torch.empty(quant_state.shape, dtype=quant_state.dtype, device=A.device)
    del a
    return o.t() if A.shape[0] == 1 else o
bnbF.dequantize_4bit = dequantize_4bit
import bitsandbytes.autograd._functions as bfun
bfun.F.dequantize_4bit = dequantize_4bit

cfg = AutoConfig.for_model("mistral", vocab_size=32000, hidden_size=4096, intermediate_size=14336,
    num_hidden_layers=LAYERS, num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=32768,
    rms_norm_eps=1e-5, rope_theta=10000.0, sliding_window=4096, tie_word_embeddings=False)
cfg._attn_implementation = "eager"
with torch.device("meta"):
    model = AutoModelForCausalLM.from_config(cfg, torch_dtype=BF16)
model.config._attn_implementation = "flash_attention_2"
model.model._attn_implementation = "flash_attention_2"
for i, layer in enumerate(model.model.layers):
    with torch.device("meta"):
        fa = mm.MistralFlashAttention2(cfg, layer_idx=i).to(BF16)
    layer.self_attn = fa

def quantize(model):
    for name, mod in list(model.named_modules()):
        for cname, child in list(mod.named_children()):
            if isinstance(child, nn.Linear) and cname != "lm_head":
                o, i = child.out_features, child.in_features
                new = bnb.nn.Linear4bit(i, o, bias=False, compute_dtype=BF16, quant_type="nf4", device=META)
                n = o * i
                qs = QuantState(absmax=torch.empty((n // 64,), dtype=torch.uint8, device=META), shape=torch.Size([o, i]),
                                code=torch.empty(16, dtype=torch.float32, device=META), blocksize=64, quant_type="nf4", dtype=BF16)
                w = bnb.nn.Params4bit(torch.empty(((n + 1) // 2, 1), dtype=torch.uint8, device=META), requires_grad=False,
                                      quant_state=qs, blocksize=64, quant_type="nf4", bnb_quantized=True, module=new)
                new.weight = w; new.quant_state = qs; new.compute_type_is_set = True
                setattr(mod, cname, new)
    model.is_loaded_in_4bit = True; model.is_quantized = True
    from transformers import BitsAndBytesConfig
    model.config.quantization_config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=BF16)
quantize(model)
model.config._pre_quantization_dtype = BF16
model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
model = get_peft_model(model, LoraConfig(r=16, lora_alpha=16, lora_dropout=0.1, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM"))
# TRL peft_module_casting_to_bf16
for name, module in model.named_modules():
    if isinstance(module, nn.LayerNorm) or "norm" in name:
        module.to(torch.float32)
    elif any(x in name for x in ["lm_head", "embed_tokens", "wte", "wpe"]):
        if hasattr(module, "weight") and module.weight.dtype == torch.float32:
            module.to(BF16)
model.train()
dt = {}
for n, p in model.named_parameters():
    dt.setdefault((str(p.dtype), p.requires_grad), 0); dt[(str(p.dtype), p.requires_grad)] += p.numel()
params = [p for p in model.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=2e-4, foreach=True)

T = Tracker()
T.mm_hook = None
for p in list(model.parameters()) + list(model.buffers()):
    T.adopt(p, None)
for m_ in model.modules():
    qs = getattr(m_, "quant_state", None)
    if qs is not None:
        T.adopt(qs.absmax, None); T.adopt(qs.code, None)
S = 4096
def step(mark):
    with T:
        ids = torch.empty((BATCH, S), dtype=torch.int64, device=META)
        labels = torch.empty((BATCH, S), dtype=torch.int64, device=META)
        if mark: T.mark("forward")
        AC["on"] = True
        out = model(input_ids=ids, labels=labels)
        loss = out["loss"]
        del out
        AC["on"] = False
        if mark: T.mark("backward")
        AC["on"] = True  # reentrant recompute runs under the forward's autocast state
        loss.backward()
        AC["on"] = False
        del loss, ids, labels
        if mark: T.mark("optimizer")
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if mark: T.mark("end")
step(False)
T.mark("reset_peaks")
step(True)
T.poll()
json.dump(T.events, open(OUT, "w"))
print("events", len(T.events), file=sys.stderr)


def replay(schedule_path, events):
    """The schedule's loading (up to its warm_up mark), then the recorded steps, through allocsim."""
    from allocsim import Allocator
    ev = []
    for line in open(schedule_path):
        p = line.split()
        if p[0] == 'm' and p[1] == 'warm_up': break
        if p[0] == 'a': ev.append(('a', ('s', int(p[1])), int(p[2])))
        elif p[0] == 'f' and int(p[1]) >= 0: ev.append(('f', ('s', int(p[1]))))
    ev += [('a', ('r',) + tuple(e[1]), e[2]) if e[0] == 'a' else ('f', ('r',) + tuple(e[1])) if e[0] == 'f' else e
           for e in events]
    A = Allocator(); live = {}; best = (0, [], 0); step = False; M = 1 << 20
    for e in ev:
        if e[0] == 'a':
            live[e[1]] = A.malloc(e[2])
            if step and A.allocated > best[0]: best = (A.allocated, A.free_bytes_by_block()[:3], A.reserved)
        elif e[0] == 'f': A.free(live.pop(e[1]))
        elif e[1] == 'reset_peaks': A.reset_peaks(); step = True
    print(f"peak reserved {A.peak_reserved / M:.0f} MiB; step's peak allocated {best[0] / M:.0f} MiB, free blocks "
          f"then {[round(b / M) for b in best[1]]} MiB")


if len(sys.argv) > 5:
    replay(sys.argv[5], json.loads(json.dumps(T.events)))

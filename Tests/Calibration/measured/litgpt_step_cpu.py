"""Measure LitGPT's own LoRA model code (a checkout on sys.path) on CPU: what autograd saves per layer and the
allocator peak of a steady iteration of litgpt's fit loop, with every nn.Linear replaced by a stand-in for
bitsandbytes' 4-bit linear whose autograd Function keeps its input as bnb <=0.43 MatMul4Bit does
(`ctx.tensors = (A, B)`) or not (0.44+: `(None, B)`).

Three iterations of the loop run under torch.profiler (profile_memory): iteration 2 and 3 are steady (the
previous iteration's logits, and through their graph the inputs the stand-in matmuls keep, alive through the
forward, as LitGPT's `logits = model(...)` rebinding leaves them). Peaks are bytes above the weights (which
exist before profiling); the optimizer is a stateless SGD (LitGPT's PagedAdamW state is cudaMallocManaged,
outside PyTorch's allocator). The stand-in dequantizes by cloning the bf16 weight once (bitsandbytes with
Fabric's fp16 quant state makes an fp16 buffer and a bf16 copy: the estimator counts both) and folds lm_head's
non-contiguous chunk into one matmul (CPU's bmm would copy the weight per batch row; CUDA's does not).

Needs: torch (CPU), lightning==2.2.1, pyyaml, numpy, jsonargparse, setuptools<70; a LitGPT checkout's
`litgpt/` (or lit-gpt's `lit_gpt/`) folder under SRC_DIR (git archive <commit> litgpt | tar -x -C SRC_DIR).

usage: python litgpt_step_cpu.py SRC_DIR PKG CONFIG_NAME LAYERS SEQ BATCH RANK SAVE_INPUT(0/1)
  e.g. python litgpt_step_cpu.py /tmp/litgpt-00af8b0d litgpt Llama-3.2-1B 16 512 2 32 1
"""
import gc, json, sys, math
import torch
import torch.nn.functional as F
from torch.autograd.graph import saved_tensors_hooks

src, pkg, name, layers, seq, batch, rank, save_input = sys.argv[1:9]
layers, seq, batch, rank, save_input = int(layers), int(seq), int(batch), int(rank), save_input == "1"
sys.path.insert(0, src)
lora = __import__(f"{pkg}.lora", fromlist=["x"])
utils = __import__(f"{pkg}.utils", fromlist=["x"])


class MatMul4BitLike(torch.autograd.Function):
    """bnb 0.41-0.43 MatMul4Bit: out = A @ dequant(B).t(); ctx.tensors = (A, B) when A or B needs grad."""

    @staticmethod
    def forward(ctx, A, W):
        w = W.clone()  # the dequantized weight: a temporary of the weight's size
        # CUDA's matmul runs a non-contiguous 3-D input (an lm_head chunk) as a bmm over the weight's
        # stride-0 expansion; CPU's bmm would copy the weight per batch row: fold it here instead.
        out = (A.reshape(-1, A.shape[-1]) @ w.t()).view(*A.shape[:-1], w.shape[0])
        del w
        if any(ctx.needs_input_grad[:2]):
            ctx.tensors = (A if save_input else None, W)
        else:
            ctx.tensors = (None, None)
        return out

    @staticmethod
    def backward(ctx, grad):
        A, W = ctx.tensors
        w = W.clone()
        return grad @ w, None


class Linear4bitLike(torch.nn.Module):
    def __init__(self, linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = torch.nn.Parameter(linear.weight.detach(), requires_grad=False)
        self.bias = None

    def forward(self, x):
        return MatMul4BitLike.apply(x, self.weight)


def replace(module):
    for child_name, child in module.named_children():
        if type(child) is torch.nn.Linear:
            setattr(module, child_name, Linear4bitLike(child))
        else:
            replace(child)


torch.manual_seed(0)
torch.set_default_dtype(torch.bfloat16)
if pkg == "lit_gpt":  # 2023 names
    config = lora.Config.from_name(name, n_layer=layers, r=rank, alpha=16, dropout=0.05, to_query=True, to_value=True,
        to_key=False, to_projection=False, to_mlp=False, to_head=False)
else:
    config = lora.Config.from_name(
        name, n_layer=layers, lora_r=rank, lora_alpha=16, lora_dropout=0.05, lora_query=True, lora_value=True,
        lora_key=False, lora_projection=False, lora_mlp=False, lora_head=False)
model = lora.GPT(config)
torch.set_default_dtype(torch.float32)
lora.mark_only_lora_as_trainable(model)
replace(model)
model.max_seq_length = seq  # litgpt fit: min(longest sample, max_seq_length), outside init (fp32 rope cache)
model.train()
params = {p.untyped_storage().data_ptr() for p in model.parameters()} | {
    b.untyped_storage().data_ptr() for b in model.buffers()}
optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4)  # no state: paged in litgpt

ids = torch.randint(0, config.padded_vocab_size, (batch, seq), generator=torch.Generator().manual_seed(0))
targets = ids.clone()
accumulation = 4

saved = {}
def pack(t):
    s = t.untyped_storage()
    if s.data_ptr() not in params:
        saved[s.data_ptr()] = s.nbytes()
    return t


def iteration(iter_num, state, record=False):
    with torch.profiler.record_function(f"phase:forward{iter_num}"):
        with (saved_tensors_hooks(pack, lambda t: t) if record else _null()):
            logits = model(ids, lm_head_chunk_size=128)
            state["logits"] = logits  # litgpt: `logits = model(...)` rebinds only now
            logits[-1] = logits[-1][..., :-1, :]
            loss = utils.chunked_cross_entropy(logits, targets[..., 1:])
    with torch.profiler.record_function(f"phase:backward{iter_num}"):
        (loss / accumulation).backward()
    state["loss"] = loss.detach()
    with torch.profiler.record_function(f"phase:optimizer{iter_num}"):
        if iter_num % accumulation == 0:
            optimizer.step()
            optimizer.zero_grad()
    state["loss"] = state["loss"].item()  # log_interval 1: running_loss.compute().item()


class _null:
    def __enter__(self): return self
    def __exit__(self, *a): return False


def replay(prof):
    ranges = {}
    for e in prof.profiler.kineto_results.events():
        if e.name().startswith("phase:"):
            ranges[e.name()[6:]] = (e.start_ns(), e.start_ns() + e.duration_ns())
    events = sorted(((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                     if e.name() == "[memory]" and str(e.device_type()).endswith("CPU")), key=lambda x: x[0])
    live, peaks, overall = 0, {k: 0 for k in ranges}, 0
    for t, b in events:
        live += b
        overall = max(overall, live)
        for k, (s, e) in ranges.items():
            if s <= t <= e:
                peaks[k] = max(peaks[k], live)
    return peaks, overall, live


state = {}
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
    for i in (1, 2, 3):
        iteration(i, state, record=(i == 2))
peaks, overall, final = replay(prof)
out = {"config": name, "layers": layers, "seq": seq, "batch": batch, "rank": rank, "bnb_saves_input": save_input,
       "saved_for_backward_iter2": sum(saved.values()), "peaks": peaks, "overall_peak": overall,
       "live_after": final, "torch": torch.__version__}
print(json.dumps(out))

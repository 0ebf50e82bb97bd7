"""Peak bytes of softmax backward on CPU, in units of the score tensor, by dtype (allocator events)."""
import torch, json, sys
def run(dtype):
    n = 4 * 1024 * 1024
    x = torch.randn(4, 1024, 1024, dtype=dtype, requires_grad=True)
    y = torch.nn.functional.softmax(x, dim=-1, dtype=torch.float32).to(dtype)
    g = torch.ones_like(y)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        y.backward(g)
    ev = sorted(((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"), key=lambda t: t[0])
    live = peak = 0
    for _, b in ev:
        live += b; peak = max(peak, live)
    return peak / n
out = {str(d): run(d) for d in (torch.float32, torch.bfloat16)}
print(json.dumps({"torch": torch.__version__, "peak_bytes_per_score_element_above_start_during_backward": out}))

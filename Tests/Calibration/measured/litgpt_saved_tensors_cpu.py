"""Lists what autograd saves after one forward of LitGPT's LoRA model (litgpt_step_cpu.py's build, same
arguments), one line per storage with the nodes that saved it: walks the graph from the loss and reads each
node's `_saved_*` attributes (the stand-in 4-bit matmul's kept inputs are its `ctx.tensors`, not listed).

usage: python litgpt_saved_tensors_cpu.py SRC_DIR PKG CONFIG_NAME LAYERS SEQ BATCH RANK SAVE_INPUT(0/1)
"""
import sys, torch
exec(open(__file__.replace('litgpt_saved_tensors_cpu.py', 'litgpt_step_cpu.py')).read().split("state = {}")[0])
logits = model(ids, lm_head_chunk_size=128)
logits[-1] = logits[-1][..., :-1, :]
loss = utils.chunked_cross_entropy(logits, targets[..., 1:])
seen, rows, stor = set(), [], {}
stack = [loss.grad_fn]
while stack:
    n = stack.pop()
    if n is None or n in seen: continue
    seen.add(n)
    for a in dir(n):
        if a.startswith("_saved_"):
            try: v = getattr(n, a)
            except Exception: continue
            vs = v if isinstance(v, (tuple, list)) else [v]
            for t in vs:
                if isinstance(t, torch.Tensor):
                    s = t.untyped_storage()
                    if s.data_ptr() in params: continue
                    key = s.data_ptr()
                    stor.setdefault(key, (s.nbytes(), []))[1].append(f"{n.name()}.{a}{tuple(t.shape)}{str(t.dtype)[6:]}")
    for nx, _ in n.next_functions: stack.append(nx)
tot = 0
for k, (b, users) in sorted(stor.items(), key=lambda x: -x[1][0]):
    tot += b
    print(f"{b:>12,} {users[:3]}{' +%d' % (len(users)-3) if len(users) > 3 else ''}")
print("total", tot)

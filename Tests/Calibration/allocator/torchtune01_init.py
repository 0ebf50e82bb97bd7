"""torchtune 0.1 (0914d5cfb, 2024-04-15) + torchao 0.1 model init of QLoRA Llama-2-7B (rank 8 on q, k, v,
output_proj, w1, w2, w3; 7B_qlora_single_device.yaml) as GPU allocations, restated from the sources
independently of the Swift schedule and replayed through the allocator study's allocsim.py (PyTorch
CUDACachingAllocator rules, default settings). Prints reserved after the build (deep copies) and after
load_state_dict; torchtune's QLoRA tutorial (row 056) reports 9.13 GB max_memory_reserved after model init.
Variants: an fp16 checkpoint (Llama-2-7b-hf's .bin files; to_nf4's .to(bfloat16) copy during the load),
torchtune's per-layer rotary caches (4096 x 64 x 2 fp32; not in the estimator's components).
Run: python3 torchtune01_init.py <the study's tools/allocator folder>"""
import sys
sys.path.insert(0, sys.argv[1])
from allocsim import replay

D, H, V, L, R = 4096, 11008, 32000, 32, 8
# torchtune's build order within a layer: q, k, v, output_proj, then FeedForward(gate, down, up)
MODULES = [(D, D)] * 4 + [(D, H), (H, D), (D, H)]


class Trace:
    def __init__(self):
        self.ev, self.n = [], 0

    def a(self, nbytes):
        self.n += 1
        self.ev.append(('a', self.n, nbytes))
        return self.n

    def f(self, *ids):
        for i in ids:
            self.ev.append(('f', i))


def block_absmax(t, numel, group):            # get_block_absmax: abs, max values, max indices
    ab, vals, idx = t.a(numel * 2), t.a(numel // group * 2), t.a(numel // group * 8)
    t.f(ab, idx)
    return vals


def to_nf4(t, n):                               # NF4Tensor.from_tensor, torchao v0.1
    nb = n // 64
    code = t.a(32)
    s1 = block_absmax(t, n, 64)
    mean = t.a(2)
    centred = t.a(nb * 2); t.f(s1)
    sa = block_absmax(t, nb, 256)
    two = t.a(nb * 2); qf = t.a(nb * 2); t.f(two)     # 256 / (2 * expanded absmax): kept via [:, 0]
    q1 = t.a(nb * 2); q2 = t.a(nb * 2); t.f(q1); q3 = t.a(nb * 2); t.f(q2)
    qs = t.a(nb); t.f(q3, centred, sa)
    sc = block_absmax(t, n, 64)
    scaled = t.a(n * 2)
    sub = t.a(n * 16 * 2); ab = t.a(n * 16 * 2); t.f(sub)  # (value - nf4).abs() over all 16 codes
    mv = t.a(n * 2); mi = t.a(n * 8); t.f(mv, ab)
    sh = t.a(n // 2 * 8); orr = t.a(n // 2 * 8); t.f(sh)
    qd = t.a(n // 2); t.f(sc, scaled, mi, orr)
    return [qs, qf, mean, qd, code]


def kept_sizes(n):
    return [n // 64, n // 64 * 2, 2, n // 2, 32]


def original_weight(t, n):                      # NF4Tensor.get_original_weight, torchao v0.1
    nb = n // 64
    a1 = t.a(n // 2); fe = t.a(n // 2 * 8); t.f(a1)
    a2 = t.a(n // 2); se = t.a(n // 2 * 8); t.f(a2)
    df = t.a(n // 2 * 2); ds = t.a(n // 2 * 2)
    d1 = t.a(nb * 2); sc = t.a(nb * 2); t.f(d1)
    r1 = t.a(n // 2 * 2); sf = t.a(n // 2 * 2); t.f(r1)
    r2 = t.a(n // 2 * 2); ss = t.a(n // 2 * 2); t.f(r2)
    out = t.a(n * 2)
    t.f(fe, se, df, ds, sc, sf, ss)
    return out


def rope(t, kept):
    if kept:
        return [t.a(32 * 4), t.a(4096 * 64 * 2 * 4)]
    return []


def run(fp16_checkpoint, rope_caches):
    t = Trace()
    template = []
    for i, o in MODULES:                        # lora_llama2: one layer, each LoRALinear quantized as made
        w = t.a(i * o * 2)
        template += to_nf4(t, i * o)
        t.f(w)
        template += [t.a(R * i * 2), t.a(o * R * 2)]
    template += rope(t, rope_caches)
    t.a(V * D * 2); t.a(V * D * 2)              # tok_embeddings, output
    layers = []
    for _ in range(L):                          # _get_clones: copy.deepcopy per layer
        layer = []
        for i, o in MODULES:
            n = i * o
            w = original_weight(t, n)           # torchtune's clone: to_nf4(get_original_weight())
            clone = to_nf4(t, n)
            t.f(w)
            layer.append([t.a(s) for s in kept_sizes(n)])   # Tensor.__deepcopy__: __dict__ copied
            t.f(*clone)
            t.a(R * i * 2); t.a(o * R * 2)
        rope(t, rope_caches)
        layers.append(layer)
    t.f(*template)
    t.ev.append(('m', 'built'))
    for layer in layers:                        # load_state_dict: inplace_copy -> to_nf4(cpu.to(device))
        for k, (i, o) in enumerate(MODULES):
            n = i * o
            staged = t.a(n * 2)
            cast = t.a(n * 2) if fp16_checkpoint else None   # to_nf4: tensor.to(torch.bfloat16)
            new = to_nf4(t, n)
            if cast:
                t.f(cast)
            t.f(staged, *layer[k])
            layer[k] = new
    t.ev.append(('m', 'init'))
    return t.ev


for fp16 in (False, True):
    for caches in (False, True):
        _, snaps = replay(run(fp16, caches))
        print(f"fp16 checkpoint {fp16!s:5} rope caches {caches!s:5}: reserved after build "
              f"{snaps['built']['peak_reserved'] / 1e9:.3f} GB, after load {snaps['init']['peak_reserved'] / 1e9:.3f} GB, "
              f"allocated {snaps['init']['allocated'] / 1e9:.3f} GB, peak allocated {snaps['init']['peak_allocated'] / 1e9:.3f} GB")

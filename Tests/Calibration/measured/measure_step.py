"""Measures the memory of one real, steady LoRA/QLoRA training step on CPU with PyTorch's own
allocator events: HF transformers + peft + bitsandbytes, real layer dimensions, no weights needed.

Every allocation and every free of the step is replayed at its own timestamp (torch.profiler with
profile_memory=True, raw allocator events), so a moment inside an operator (its output alive
beside its inputs and temporaries) is seen. Figures are bytes above what was live before the step
(weights, adapters, optimizer state: a warm-up step ran first, and zero_grad(set_to_none=True)
freed its gradients).

  saved_for_backward    storages autograd holds at the end of forward (parameters excluded)
  peak_forward          highest live moment during forward (and the loss)
  peak_backward         highest live moment during backward
  peak_optimizer        highest live moment during optimizer.step() and zero_grad
  step_peak             the largest of the three
  live_after_step       what the step leaves allocated

Each figure is affine in the number of decoder layers, so the model is built with 1 and with 2
layers and extrapolated to its true depth (both raw measurements are kept).

Loop styles (what keeps the model output alive):
  trainer   as HF Trainer's compute_loss: only the loss survives the forward call; the output's
            logits are dropped before backward
  plain     `out = model(...); out.loss.backward()`: the output (logits) stays referenced through
            backward and the optimizer step, and is dropped before the next step

Needs: pip install torch transformers peft bitsandbytes accelerate (CPU is enough).
Usage:
  python measure_step.py --list
  python measure_step.py OUT.json CASE [CASE...]       (a case from CASES below)
  python measure_step.py OUT.json --spec '{"model": "llama-3.2-1b", "seq": 512, ...}'
Results are merged into OUT.json under the case name.

This copy (Tests/Calibration/measured/) adds to the team's tool: `use_dora` (peft's LoraConfig flag);
`depths` in a spec (each depth also built and measured whole, kept as `layers_N`, to check the 1 -> 2
layer extrapolation); and `peak_backward_at` / `peak_forward_at`, the operators running at each
phase's peak (outermost first, the innermost six), to see at which moment the peak happens.
The MODELS table also has `mla-tiny` and `mla-tiny-noq`, DeepSeek-V3-shaped models at small widths
(Tests/QLoRABudgetTests/Fixtures/mla-steps), and `qwen3-moe-tiny`, a Qwen3-MoE-shaped one whose all-linear
LoRA peft turns into adapters on the fused experts (Tests/Calibration/measured/README.md, issue 21's MoE part); `gemma-3n-e2b`,
Gemma 3n E2B's text model with uniform built layers and its AltUp coefficients kept out of bitsandbytes
(Tests/QLoRABudgetTests/Fixtures/gemma3n-steps).
"""
import argparse, gc, json, os, shutil, sys, tempfile, time
import torch
from torch.autograd.graph import saved_tensors_hooks
from transformers import AutoConfig, AutoModelForCausalLM, BitsAndBytesConfig
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

# Layer dimensions of real models (no weights are downloaded; the model is built from its config).
MODELS = {
  "llama-3.1-8b": ("llama", dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8, tie_word_embeddings=False)),
  "llama-3.2-1b": ("llama", dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8, head_dim=64, tie_word_embeddings=True)),
  "llama-3.2-3b": ("llama", dict(vocab_size=128256, hidden_size=3072, intermediate_size=8192, num_hidden_layers=28, num_attention_heads=24, num_key_value_heads=8, head_dim=128, tie_word_embeddings=True)),
  "mistral-7b-v0.3": ("mistral", dict(vocab_size=32768, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8, head_dim=128, tie_word_embeddings=False)),
  "qwen2.5-0.5b": ("qwen2", dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2, tie_word_embeddings=True)),
  "qwen2.5-7b": ("qwen2", dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4, tie_word_embeddings=False)),
  "qwen3-8b": ("qwen3", dict(vocab_size=151936, hidden_size=4096, intermediate_size=12288, num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8, head_dim=128, tie_word_embeddings=False)),
  "qwen3-14b": ("qwen3", dict(vocab_size=151936, hidden_size=5120, intermediate_size=17408, num_hidden_layers=40, num_attention_heads=40, num_key_value_heads=8, head_dim=128, tie_word_embeddings=False)),
  "gemma-2-2b": ("gemma2", dict(vocab_size=256000, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26, num_attention_heads=8, num_key_value_heads=4, head_dim=256, tie_word_embeddings=True)),
  "phi-3-mini-4k": ("phi3", dict(vocab_size=32064, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32, tie_word_embeddings=False)),
  "smollm2-360m": ("llama", dict(vocab_size=49152, hidden_size=960, intermediate_size=2560, num_hidden_layers=32, num_attention_heads=15, num_key_value_heads=5, tie_word_embeddings=True)),
  # DeepSeek-V3-shaped (MLA attention, a dense first layer, routed + shared experts) at small widths: the layer
  # 0 is dense (first_k_dense_replace 1), so the 1 -> 2 layer line is the sparse layer's.
  "mla-tiny": ("deepseek_v3", dict(vocab_size=32000, hidden_size=1024, intermediate_size=2816, moe_intermediate_size=512, num_hidden_layers=8, num_attention_heads=16, num_key_value_heads=16, q_lora_rank=384, kv_lora_rank=256, qk_nope_head_dim=64, qk_rope_head_dim=32, v_head_dim=64, n_routed_experts=16, num_experts_per_tok=4, n_shared_experts=1, first_k_dense_replace=1, n_group=1, topk_group=1, tie_word_embeddings=False)),
  # The same without the query latent (q_lora_rank null: q_proj, as DeepSeek-V2-Lite and Moonlight), two shared experts.
  "mla-tiny-noq": ("deepseek_v3", dict(vocab_size=32000, hidden_size=768, intermediate_size=2048, moe_intermediate_size=384, num_hidden_layers=6, num_attention_heads=12, num_key_value_heads=12, q_lora_rank=None, kv_lora_rank=192, qk_nope_head_dim=64, qk_rope_head_dim=32, v_head_dim=64, n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=2, first_k_dense_replace=1, n_group=1, topk_group=1, tie_word_embeddings=False)),
  # Gemma 3n E2B's text model (the gemma-3n-e2b preset); every built layer owns its K/V, is sliding and takes the
  # Gaussian top-k of the gate (as the real model's first 10 layers): see build().
  "gemma-3n-e2b": ("gemma3n_text", dict(vocab_size=262400, vocab_size_per_layer_input=262144, hidden_size=2048, hidden_size_per_layer_input=256, intermediate_size=8192, num_hidden_layers=30, num_attention_heads=8, num_key_value_heads=2, head_dim=256, laurel_rank=64, altup_num_inputs=4, tie_word_embeddings=True)),
  # Qwen3-MoE-shaped at small widths (every layer sparse, 16 experts, top 4): on transformers 5, peft turns
  # all-linear into LoRA on the fused experts and the router (target_parameters; lora_dropout must be 0).
  "qwen3-moe-tiny": ("qwen3_moe", dict(vocab_size=32000, hidden_size=1024, intermediate_size=2816, moe_intermediate_size=512, num_hidden_layers=8, num_attention_heads=16, num_key_value_heads=4, head_dim=64, num_experts=16, num_experts_per_tok=4, norm_topk_prob=True, tie_word_embeddings=False)),
}

ALL = "all-linear"
QKVO = ["q_proj", "k_proj", "v_proj", "o_proj"]

def case(model, seq, batch, r, targets=ALL, dropout=0.05, gc_on=True, attn="sdpa", autocast=True,
         quant="nf4", loop="trainer", optimizer="adamw", full=False, use_dora=False):
    return dict(model=model, seq=seq, batch=batch, r=r, targets=targets, dropout=dropout, gc=gc_on,
                attn=attn, autocast=autocast, quant=quant, loop=loop, optimizer=optimizer, full=full,
                use_dora=use_dora)

# Named cases. Regimes: checkpointing on/off, bf16 autocast on/off, NF4 base vs 16-bit base,
# SDPA vs eager, batch > 1, trainer vs plain loop.
CASES = {
  "qwen2.5-0.5b-s512-b1-r16-gc-sdpa": case("qwen2.5-0.5b", 512, 1, 16),
  "qwen2.5-0.5b-s1024-b2-r16-nogc-sdpa": case("qwen2.5-0.5b", 1024, 2, 16, gc_on=False),
  "qwen2.5-0.5b-s512-b1-r8qv-nogc-eager-plain": case("qwen2.5-0.5b", 512, 1, 8, ["q_proj", "v_proj"], 0.0, False, "eager", loop="plain"),
  "qwen2.5-0.5b-s1024-b1-r16-gc-sdpa-noamp-plain": case("qwen2.5-0.5b", 1024, 1, 16, dropout=0.0, autocast=False, loop="plain"),
  "qwen2.5-0.5b-s1024-b1-r16-gc-sdpa-lora16": case("qwen2.5-0.5b", 1024, 1, 16, quant="none"),
  "llama-3.2-1b-s1024-b1-r16-gc-sdpa": case("llama-3.2-1b", 1024, 1, 16),
  "llama-3.2-1b-s2048-b1-r64-nogc-sdpa": case("llama-3.2-1b", 2048, 1, 64, dropout=0.1, gc_on=False),
  "llama-3.2-1b-s1024-b2-r32qkvo-gc-eager-noamp-plain": case("llama-3.2-1b", 1024, 2, 32, QKVO, 0.0, True, "eager", False, loop="plain"),
  "llama-3.2-1b-s1024-b1-r16-nogc-sdpa-lora16-plain": case("llama-3.2-1b", 1024, 1, 16, gc_on=False, quant="none", loop="plain"),
  "mistral-7b-v0.3-s1024-b2-r8-nogc-sdpa": case("mistral-7b-v0.3", 1024, 2, 8, gc_on=False),
  "qwen3-8b-s2048-b1-r16-gc-sdpa-plain": case("qwen3-8b", 2048, 1, 16, loop="plain"),
  "phi-3-mini-4k-s1024-b1-r16-gc-sdpa": case("phi-3-mini-4k", 1024, 1, 16),
  "smollm2-360m-s2048-b4-r32qkvo-gc-eager-noamp-lora16-plain": case("smollm2-360m", 2048, 4, 32, QKVO, 0.0, True, "eager", False, "none", "plain"),
  "qwen2.5-0.5b-s512-b2-full-gc-sdpa": case("qwen2.5-0.5b", 512, 2, 0, gc_on=True, quant="none", full=True),
}

def replay(prof, ranges):
    """Live bytes above the start, replaying every allocator event at its own time. Returns the
    peak inside each named time range, the overall peak, and the final live bytes."""
    events = sorted(((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                     if e.name() == "[memory]" and str(e.device_type()).endswith("CPU")), key=lambda x: x[0])
    live, peaks, at = 0, {name: None for name in ranges}, {}
    overall = 0
    for t, b in events:
        live += b
        overall = max(overall, live)
        for name, (start, end) in ranges.items():
            if start <= t <= end and (peaks[name] is None or live > peaks[name]):
                peaks[name], at[name] = live, t
    return {k: (v or 0) for k, v in peaks.items()}, overall, live, at

def operators_at(prof, t):
    """The operators running at time t, outermost first (where a phase's peak happens)."""
    ops = [(e.start_ns(), e.duration_ns(), e.name()) for e in prof.profiler.kineto_results.events()
           if e.name() != "[memory]" and not e.name().startswith("phase:") and e.start_ns() <= t <= e.start_ns() + e.duration_ns()]
    return [n for _, _, n in sorted(ops, key=lambda o: -o[1])][-6:]

def phase_ranges(prof):
    out = {}
    for e in prof.profiler.kineto_results.events():
        n = e.name()
        if n.startswith("phase:"):
            out[n[6:]] = (e.start_ns(), e.start_ns() + e.duration_ns())
    return out

def build(spec, layers, folder):
    model_type, kw = MODELS[spec["model"]]
    kw = {**kw, "num_hidden_layers": layers}
    skip = None
    if model_type == "gemma3n_text":
        # Uniform built layers (so the 1- and 2-layer builds extrapolate): none KV-shared, each
        # sparse (0.95) and sliding. The AltUp coefficient Linears stay out of bitsandbytes:
        # Gemma3nTextAltUp clamps their weights in training, and a 4-bit uint8 weight fails
        # ("result type Float can't be cast to the desired output type unsigned char").
        kw.update(num_kv_shared_layers=0, intermediate_size=[kw["intermediate_size"]] * layers,
                  activation_sparsity_pattern=[0.95] * layers, layer_types=["sliding_attention"] * layers)
        skip = ["correction_coefs", "prediction_coefs", "lm_head"]
    cfg = AutoConfig.for_model(model_type, **kw)
    m = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    m.save_pretrained(folder); del m; gc.collect()
    if spec["quant"] in ("nf4", "fp4"):
        bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=spec["quant"], bnb_4bit_use_double_quant=True,
                                 bnb_4bit_compute_dtype=torch.bfloat16, llm_int8_skip_modules=skip)
        q = AutoModelForCausalLM.from_pretrained(folder, quantization_config=bnb, device_map="cpu", dtype=torch.bfloat16,
                                                 attn_implementation=spec["attn"])
        q = prepare_model_for_kbit_training(q, use_gradient_checkpointing=spec["gc"])
    elif spec["quant"] == "int8":  # LLM.int8 (on CPU, training runs bitsandbytes' MatMul8bitFp)
        bnb = BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)
        q = AutoModelForCausalLM.from_pretrained(folder, quantization_config=bnb, device_map="cpu", dtype=torch.bfloat16,
                                                 attn_implementation=spec["attn"])
        q = prepare_model_for_kbit_training(q, use_gradient_checkpointing=spec["gc"])
    else:  # 16-bit base, no upcast
        q = AutoModelForCausalLM.from_pretrained(folder, device_map="cpu", dtype=torch.bfloat16, attn_implementation=spec["attn"])
        if spec["gc"]:
            q.gradient_checkpointing_enable()
            q.enable_input_require_grads()
    if spec["full"]:
        return q, kw["vocab_size"]
    lora = dict(r=spec["r"], lora_alpha=2 * spec["r"], target_modules=spec["targets"], lora_dropout=spec["dropout"],
                use_dora=spec.get("use_dora", False))
    return get_peft_model(q, LoraConfig(task_type="CAUSAL_LM", **lora)), kw["vocab_size"]

def measure(spec, layers):
    folder = tempfile.mkdtemp(prefix="step-")
    try:
        pm, vocab = build(spec, layers, folder)
        pm.train()
        opt = torch.optim.AdamW([p for p in pm.parameters() if p.requires_grad], lr=1e-4)
        ids = torch.randint(0, vocab, (spec["batch"], spec["seq"]), generator=torch.Generator().manual_seed(0))
        amp = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=spec["autocast"])
        plain = spec["loop"] == "plain"

        def step(record=None):
            with torch.profiler.record_function("phase:forward"):
                with saved_tensors_hooks(*record) if record else _null(), amp():
                    if plain:
                        out = pm(input_ids=ids, labels=ids)
                        loss = out.loss
                    else:
                        out = None
                        loss = pm(input_ids=ids, labels=ids).loss
            with torch.profiler.record_function("phase:backward"):
                loss.backward()
            with torch.profiler.record_function("phase:optimizer"):
                opt.step()
                opt.zero_grad(set_to_none=True)
            return out

        out = step()  # warm-up: optimizer state allocated, gradients freed
        del out
        gc.collect()
        params = {p.untyped_storage().data_ptr() for p in pm.parameters()} | {b.untyped_storage().data_ptr() for b in pm.buffers()}
        saved = {}
        def pack(t):
            s = t.untyped_storage()
            if s.data_ptr() not in params:
                saved[s.data_ptr()] = s.nbytes()
            return t
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
            out = step((pack, lambda t: t))
            del out
        peaks, overall, final, at = replay(prof, phase_ranges(prof))
        trainable = sum(p.numel() for p in pm.parameters() if p.requires_grad)
        r = {"saved_for_backward": sum(saved.values()), "peak_forward": peaks.get("forward", 0),
             "peak_backward": peaks.get("backward", 0), "peak_optimizer": peaks.get("optimizer", 0),
             "step_peak": overall, "live_after_step": final, "trainable_params": trainable,
             "peak_backward_at": operators_at(prof, at["backward"]) if "backward" in at else [],
             "peak_forward_at": operators_at(prof, at["forward"]) if "forward" in at else []}
        del pm, opt, prof; gc.collect()
        return r
    finally:
        shutil.rmtree(folder, ignore_errors=True)

class _null:
    def __enter__(self): return self
    def __exit__(self, *a): return False

def run(out_path, name, spec):
    t = time.time()
    one, two = measure(spec, 1), measure(spec, 2)
    L = MODELS[spec["model"]][1]["num_hidden_layers"]
    full = {k: one[k] + (two[k] - one[k]) * (L - 1) for k in one if isinstance(one[k], int)}
    deep = {f"layers_{d}": measure(spec, d) for d in spec.get("depths", [])}
    results = json.load(open(out_path)) if os.path.exists(out_path) else {}
    results[name] = {**spec, "layers": L, "model_config": MODELS[spec["model"]][1], "one_layer": one, "two_layers": two, **deep,
                     "full_model": full, "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                     "peft": __import__("peft").__version__, "bitsandbytes": __import__("bitsandbytes").__version__},
                     "platform": "cpu: PyTorch CPU kernels and allocator events; no CUDA context, cuBLAS workspace or caching-allocator slack"}
    json.dump(results, open(out_path, "w"), indent=1, sort_keys=True)
    print(name, f"{time.time() - t:.0f}s", {k: full[k] for k in ("saved_for_backward", "step_peak")}, flush=True)

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?")
    ap.add_argument("cases", nargs="*")
    ap.add_argument("--spec", help="a JSON object of case() arguments, measured under the name in 'name'")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        for k, v in CASES.items(): print(k, json.dumps(v))
        sys.exit(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if a.spec:
        s = json.loads(a.spec); name = s.pop("name", "custom"); depths = s.pop("depths", [])
        run(a.out, name, {**case(**s), **({"depths": depths} if depths else {})})
    for name in a.cases:
        run(a.out, name, CASES[name])

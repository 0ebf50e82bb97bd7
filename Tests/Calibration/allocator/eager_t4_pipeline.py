"""Issue 17's failing class (eager attention with large score tensors on a Tesla T4) replayed by the
allocator study's pipeline.py: each setup run as fitcheck's measure.py does it (transformers 5 threaded
load with bitsandbytes NF4, prepare_model_for_kbit_training, get_peft_model, a warm-up step, the
measured step), recorded on the meta device and replayed through allocsim.py, with the study's
threaded loader (4 workers) and the sequential one (a window of one copy).

    python3 eager_t4_pipeline.py <the study's tools/allocator folder> > eager-t4-pipeline.json

Needs torch, transformers 5.0.0, peft 0.19.1, bitsandbytes 0.50.2 (CPU is enough)."""
import json, sys

SETUPS = [
    # name, model_id, seq, batch, rank, gradient checkpointing
    ("smol17-1024x4-r32", "HuggingFaceTB/SmolLM2-1.7B", 1024, 4, 32, True),
    ("smol17-1024x8-r32", "HuggingFaceTB/SmolLM2-1.7B", 1024, 8, 32, True),
    ("smol360-4096x1-r16", "HuggingFaceTB/SmolLM2-360M", 4096, 1, 16, True),
    ("smol360-1024x4-r16-nogc", "HuggingFaceTB/SmolLM2-360M", 1024, 4, 16, False),
    ("tiny-1024x8-r32", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", 1024, 8, 32, True),
    ("tiny-4096x1-r32", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", 4096, 1, 32, True),
    ("qwen15-1024x4-r32", "Qwen/Qwen2.5-1.5B-Instruct", 1024, 4, 32, True),
    ("llama1b-4096x2-r16", "meta-llama/Llama-3.2-1B-Instruct", 4096, 2, 16, True),
    ("llama1b-4096x1-r16", "meta-llama/Llama-3.2-1B-Instruct", 4096, 1, 16, True),
    ("qwen15-4096x1-r32", "Qwen/Qwen2.5-1.5B-Instruct", 4096, 1, 32, True),
    ("smol360-1024x8-r16", "HuggingFaceTB/SmolLM2-360M", 1024, 8, 16, True),
    ("smol360-1024x2-r16-nogc", "HuggingFaceTB/SmolLM2-360M", 1024, 2, 16, False),
]


def run_object(mid, seq, batch, rank, checkpointing):
    """A fitcheck-t4 `run` object (Tests/Calibration/gpu-measured/fitcheck-t4)."""
    return {"attn_impl": "eager", "batch_size": batch, "double_quant": False, "grad_checkpoint": checkpointing,
            "kernel": "eager", "lora_rank": rank, "lora_targets": ["q_proj", "k_proj", "v_proj", "o_proj"],
            "optimizer": "adamw", "precision": "fp16", "quantization": "nf4", "seq_len": seq}


def entry(name, mid, run, threaded, sequential):
    """One fixture row from the two loaders' snapshots at the run's end (peaks since start-up)."""
    mib = 2 ** 20
    return {"name": name, "model_id": mid, "run": run,
            "pipeline": {"peak_allocated_mib": round(threaded["peak_allocated"] / mib, 1),
                         "peak_reserved_threaded_mib": threaded["peak_reserved"] / mib,
                         "peak_reserved_sequential_mib": sequential["peak_reserved"] / mib}}


if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])
    import pipeline  # the study's
    rows = []
    for name, mid, seq, batch, rank, checkpointing in SETUPS:
        run = {"model_id": mid, "run": run_object(mid, seq, batch, rank, checkpointing)}
        recorded = pipeline.trace(run)
        _, threaded, _ = pipeline.simulate(run, cached=recorded)
        _, sequential, _ = pipeline.simulate(run, load_kw={"window": 1}, cached=recorded)
        rows.append(entry(name, mid, run["run"], threaded["end"], sequential["end"]))
    json.dump({"provenance": "eager_t4_pipeline.py over the allocator study's pipeline.py (no GPU, no measurement)",
               "runs": rows}, sys.stdout, indent=1)
    print()

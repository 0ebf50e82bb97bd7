"""Re-extrapolates one measure_step.py case from 2- and 3-layer builds (for Gemma-2, whose one-layer
build creates only one of its two attention masks, so 1 -> 2 layers is not the per-layer step).
Usage: python measure_three_layers.py OUT.json NAME  (the case must already be in OUT.json from measure_step.py)"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # measure_step.py beside this file
import torch
import measure_step as ms
out, name = sys.argv[1], sys.argv[2]
results = json.load(open(out))
entry = results[name]
spec = {k: entry[k] for k in ("model", "seq", "batch", "r", "targets", "dropout", "gc", "attn", "autocast", "quant", "loop", "optimizer", "full")}
torch.set_num_threads(2)
three = ms.measure(spec, 3)
results = json.load(open(out))  # re-read: other runs may have added cases meanwhile
entry = results[name]
two = entry["two_layers"]
L = entry["layers"]
entry["three_layers"] = three
entry["full_model"] = {k: two[k] + (three[k] - two[k]) * (L - 2) for k in two}
entry["extrapolated_from"] = "two_layers and three_layers (measure3.py)"
json.dump(results, open(out, "w"), indent=1, sort_keys=True)
print(name, entry["full_model"])

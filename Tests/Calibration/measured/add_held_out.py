"""Copies cases measured by measure_step.py (this folder's copy) into ../cpu-steps/out-of-sample.json,
adding each case's `model_type` from the model's family (measure_step.py's MODELS table does not write it).
Usage: python add_held_out.py MEASURED.json CASE [CASE...]"""
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import measure_step as ms
measured = json.load(open(sys.argv[1]))
path = os.path.join(here, "..", "cpu-steps", "out-of-sample.json")
held_out = json.load(open(path))
for name in sys.argv[2:]:
    held_out[name] = {**measured[name], "model_type": ms.MODELS[measured[name]["model"]][0]}
json.dump(held_out, open(path, "w"), indent=1, sort_keys=True)

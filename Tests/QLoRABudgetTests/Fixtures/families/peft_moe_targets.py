"""What peft's get_peft_model really builds on each MoE preset with transformers 5, on the meta device.

On transformers 5, peft (>= 0.19 for named targets, >= 0.20 for "all-linear"; utils/transformers_weight_conversion.py
`_convert_peft_config_moe`) rewrites the LoRA targets of the MoE families whose experts were fused: the
transformers 4 expert and router names become `target_parameters` on the fused experts (`gate_up_proj` at rank 2r,
`down_proj`) and the router's `gate.weight`. This script builds each MoE preset from its config.json keys on
PyTorch's meta device (no weights, no memory), applies LoraConfig(r=16, lora_dropout=0.0) the ways the recipes hand
targets to peft, and counts the LoRA parameters peft created, by module path inside a decoder layer:

  all_linear            target_modules="all-linear" (the string; hf-peft, trl)
  linear_names          target_modules = the leaf names of the model's nn.Linear modules, as a list (what
                        LLaMA-Factory's find_all_linear_modules hands peft; llama-factory, axolotl, ms-swift)
  partial_pair_error    target_modules=["q_proj", "gate_proj"] (or Mixtral's "w1"): peft's ValueError, or null
  dropout_error         all-linear with lora_dropout=0.05: peft's ValueError, or null

Each holds `total` (LoRA parameters), `targets` and `target_parameters` (the converted config) and `modules`
({path: [parameters, instances]}).

Run from the package root (transformers 5.25.0, peft 0.21.2, torch 2.15.0, CPU):

    python3 Tests/QLoRABudgetTests/Fixtures/families/peft_moe_targets.py \
        > Tests/QLoRABudgetTests/Fixtures/families/peft-moe-targets-tf5.json
"""
import json
import sys
import warnings
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from peft.tuners.tuners_utils import _maybe_include_all_linear_layers

warnings.filterwarnings("ignore")
OUR_KEYS = {"name", "display_name", "hf_repo", "hub_ids", "aliases", "source", "parameter_count", "parameter_count_source"}
MOE = ["mixtral-8x7b", "mixtral-8x22b", "qwen1.5-moe-a2.7b", "qwen3-30b-a3b", "qwen3-235b-a22b", "glm-4.5-air",
       "deepseek-v3", "gpt-oss-20b", "gpt-oss-120b", "llama-4-scout", "llama-4-maverick"]


def model_for(name: str):
    preset = json.loads(Path(f"Presets/models/{name}.json").read_text())
    keys = {k: v for k, v in preset.items() if k not in OUR_KEYS}
    config = transformers.AutoConfig.for_model(keys.pop("model_type"), **keys)
    with torch.device("meta"):
        return transformers.AutoModelForCausalLM.from_config(config)


def built(name: str, targets, dropout: float = 0.0):
    model = model_for(name)
    with torch.device("meta"):
        peft_model = get_peft_model(model, LoraConfig(target_modules=targets, r=16, lora_dropout=dropout))
    modules = {}
    for path, parameter in peft_model.named_parameters():
        if "lora_" not in path:
            continue
        parts = path.replace(".default", "").split(".")
        key = ".".join(parts[parts.index("layers") + 2:])
        count, instances = modules.get(key, (0, 0))
        modules[key] = (count + parameter.numel(), instances + 1)
    config = peft_model.peft_config["default"]
    return {
        "total": sum(count for count, _ in modules.values()),
        "targets": sorted(config.target_modules) if config.target_modules else [],
        "target_parameters": sorted(config.target_parameters or []),
        "modules": {key: list(value) for key, value in sorted(modules.items())},
    }


def error(name: str, targets, dropout: float = 0.0):
    try:
        built(name, targets, dropout)
    except ValueError as failure:
        return str(failure)
    return None


def measure(name: str) -> dict:
    names = sorted({n.split(".")[-1] for n in _maybe_include_all_linear_layers(
        LoraConfig(target_modules="all-linear", r=16), model_for(name)).target_modules})
    mixtral = model_for(name).config.model_type == "mixtral"
    return {
        "all_linear": built(name, "all-linear"),
        "linear_names": {"names": names, **built(name, names)},
        "partial_pair_error": error(name, ["q_proj", "w1" if mixtral else "gate_proj"]),
        "dropout_error": error(name, "all-linear", 0.05),
    }


if __name__ == "__main__":
    result = {"transformers": transformers.__version__, "peft": peft.__version__,
              "models": {name: measure(name) for name in sys.argv[1:] or MOE}}
    print(json.dumps(result, indent=1, sort_keys=True))

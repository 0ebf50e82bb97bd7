"""Counts each preset's parameters and peft's all-linear LoRA targets on PyTorch's meta device.

An independent check of the Swift architecture code: transformers builds the model from the
preset's config.json keys (no weights, no memory), torch counts the parameters, and peft's own
all-linear rule (`_maybe_include_all_linear_layers`) names the modules LoRA would adapt.

Run from the package root, once per transformers version; without preset names it counts every
preset in Presets/models. transformers 4.57.1 runs in its own virtualenv beside the system one
(`python3 -m venv --system-site-packages tf4 && tf4/bin/pip install transformers==4.57.1
"tokenizers>=0.22,<=0.23.0" "huggingface-hub>=0.34,<1.0"`):

    python3 Tests/QLoRABudgetTests/Fixtures/families/meta_counts.py \
        > Tests/QLoRABudgetTests/Fixtures/families/meta-counts-tf5.json
    tf4/bin/python Tests/QLoRABudgetTests/Fixtures/families/meta_counts.py \
        > Tests/QLoRABudgetTests/Fixtures/families/meta-counts-tf4.json

The committed files were made with transformers 5.25.0 / 4.57.1, peft 0.21.2, torch 2.15.0 (CPU).
The Gemma 3n presets are multimodal (`gemma3n`): transformers builds their MobileNetV5 vision
tower through timm, so their entries were counted in a virtualenv with timm 1.0.31 and pillow
added (`python3 -m venv --system-site-packages v && v/bin/pip install timm pillow`).

Output: {"transformers": version, "peft": version, "models": {preset: {...}}} with, per preset,
`parameters` (tied tensors once), `all_linear_modules` (adapted module instances),
`lora_r16_parameters` (r x (in + out) summed over them) and `all_linear_names`.
"""
import json
import sys
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig
from peft.tuners.tuners_utils import _maybe_include_all_linear_layers

OUR_KEYS = {"name", "display_name", "hf_repo", "hub_ids", "aliases", "source", "parameter_count", "parameter_count_source"}


def config_for(preset: dict) -> transformers.PretrainedConfig:
    keys = {k: v for k, v in preset.items() if k not in OUR_KEYS}
    return transformers.AutoConfig.for_model(keys.pop("model_type"), **keys)


def all_presets() -> list:
    return sorted(path.stem for path in Path("Presets/models").glob("*.json"))


def count(name: str) -> dict:
    preset = json.loads(Path(f"Presets/models/{name}.json").read_text())
    config = config_for(preset)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    parameters = sum(p.numel() for p in model.parameters())
    lora = _maybe_include_all_linear_layers(LoraConfig(target_modules="all-linear", r=16), model)
    # peft names every matching module by its full path (peft 0.21); older versions name suffixes.
    targets = set(lora.target_modules)
    adapted = {n: m for n, m in model.named_modules() if n in targets or n.split(".")[-1] in targets}
    return {
        "parameters": parameters,
        "all_linear_modules": len(adapted),
        "lora_r16_parameters": sum(16 * sum(m.weight.shape) for m in adapted.values()),
        "all_linear_names": sorted({n.split(".")[-1] for n in adapted}),
    }


if __name__ == "__main__":
    result = {"transformers": transformers.__version__, "peft": peft.__version__,
              "models": {name: count(name) for name in sys.argv[1:] or all_presets()}}
    print(json.dumps(result, indent=2, sort_keys=True))

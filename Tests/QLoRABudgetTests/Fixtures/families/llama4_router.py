"""What transformers' bitsandbytes integration and peft do with Llama 4's router (Llama4Router,
an nn.Linear subclass), on a tiny random Llama4ForCausalLM on the CPU.

Run once under transformers 5.25 and once under 4.57.1 (the virtualenv of meta_counts.py):

    python3 Tests/QLoRABudgetTests/Fixtures/families/llama4_router.py
    tf4/bin/python Tests/QLoRABudgetTests/Fixtures/families/llama4_router.py

Output with bitsandbytes 0.50.2 / peft 0.21.2 / torch 2.15.0 (CPU), the basis of the
router-linear-subclass role (never quantized, adapted by all-linear) and of the estimate's note:

    5.25.0 4-bit load: router Llama4Router, q_proj Linear4bit, experts unquantized; forward ok
    5.25.0 LoRA all-linear: router adapted; forward fails: AttributeError 'tuple' object has no attribute 'dtype'
    4.57.1 4-bit load: router Linear4bit, q_proj Linear4bit, experts unquantized; forward fails: ValueError too many values to unpack (expected 2)
    4.57.1 LoRA all-linear: router adapted; forward fails: AttributeError 'tuple' object has no attribute 'dtype'
"""
import tempfile

import torch
import transformers
from peft import LoraConfig, get_peft_model
from transformers import BitsAndBytesConfig

CONFIG = dict(vocab_size=64, hidden_size=64, intermediate_size=64, intermediate_size_mlp=128, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, head_dim=16, num_local_experts=4, interleave_moe_layer_step=2)
TOKENS = torch.tensor([[1, 2, 3, 4]])


def forward(model) -> str:
    try:
        model(TOKENS, labels=TOKENS).loss.backward()
        return "forward ok"
    except Exception as error:  # the failure is the finding
        return f"forward fails: {type(error).__name__} {error}"


def main() -> None:
    version = transformers.__version__
    folder = tempfile.mkdtemp()
    transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.for_model("llama4_text", **CONFIG)).save_pretrained(folder)
    quantized = transformers.AutoModelForCausalLM.from_pretrained(
        folder, quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16), device_map="cpu")
    layer = quantized.model.layers[1]
    experts = "unquantized" if layer.feed_forward.experts.gate_up_proj.dtype != torch.uint8 else "4-bit"
    print(f"{version} 4-bit load: router {type(layer.feed_forward.router).__name__}, "
          f"q_proj {type(layer.self_attn.q_proj).__name__}, experts {experts}; {forward(quantized)}")
    plain = transformers.AutoModelForCausalLM.from_pretrained(folder)
    adapted = get_peft_model(plain, LoraConfig(target_modules="all-linear", r=4))
    router = adapted.base_model.model.model.layers[1].feed_forward.router
    print(f"{version} LoRA all-linear: router {'adapted' if hasattr(router, 'lora_A') else 'not adapted'}; {forward(adapted)}")


if __name__ == "__main__":
    main()

"""Saved tensors of a small multimodal Gemma 3n against its text model (Gemma3nStepTests).

Builds Gemma3nForCausalLM (`text`) or Gemma3nForConditionalGeneration (`mm`: the same text model,
Gemma3nConfig's vision tower, an audio tower of hidden 64, 1 block, 2 heads), loads it NF4 with
the AltUp coefficients kept out of bitsandbytes, LoRA all-linear r 16 (dropout 0.05), checkpointing,
and records every storage autograd saves in one forward under CPU autocast (64 tokens).
Needs timm and pillow for the vision tower (a virtualenv: `python3 -m venv --system-site-packages v
&& v/bin/pip install timm pillow`). Measured with torch 2.15.0, transformers 5.25.0, peft 0.21.2,
bitsandbytes 0.50.2, timm 1.0.31:

    v/bin/python embedders_saved.py text    ->  TOTAL 237664276
    v/bin/python embedders_saved.py mm      ->  TOTAL 238087316
"""
import torch, tempfile, sys, json
from torch.autograd.graph import saved_tensors_hooks
from transformers import Gemma3nTextConfig, Gemma3nConfig, Gemma3nAudioConfig, Gemma3nForConditionalGeneration, Gemma3nForCausalLM, BitsAndBytesConfig, AutoModelForCausalLM
from peft import prepare_model_for_kbit_training, LoraConfig, get_peft_model
mm = sys.argv[1] == "mm"
h, p, s, L = 256, 32, 64, 2
tc = Gemma3nTextConfig(num_hidden_layers=L, num_kv_shared_layers=0, intermediate_size=[512]*L, hidden_size=h, hidden_size_per_layer_input=p,
   vocab_size=262400, vocab_size_per_layer_input=1000, head_dim=32, num_attention_heads=8, num_key_value_heads=2, laurel_rank=8,
   activation_sparsity_pattern=[0.95]*L, layer_types=["sliding_attention"]*L)
if mm:
    cfg = Gemma3nConfig(text_config=tc.to_dict(), audio_config=Gemma3nAudioConfig(hidden_size=64, conf_num_hidden_layers=1, conf_num_attention_heads=2).to_dict())
    m = Gemma3nForConditionalGeneration(cfg).to(torch.bfloat16)
else:
    m = Gemma3nForCausalLM(tc).to(torch.bfloat16)
d = tempfile.mkdtemp(); m.save_pretrained(d); del m
bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16, llm_int8_skip_modules=["correction_coefs","prediction_coefs","lm_head"])
q = AutoModelForCausalLM.from_pretrained(d, quantization_config=bnb, device_map="cpu", dtype=torch.bfloat16, attn_implementation="sdpa")
print(type(q).__name__)
q = prepare_model_for_kbit_training(q, use_gradient_checkpointing=True)
pm = get_peft_model(q, LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, target_modules="all-linear", lora_dropout=0.05))
pm.train()
params = {t.untyped_storage().data_ptr() for t in pm.parameters()} | {b.untyped_storage().data_ptr() for b in pm.buffers()}
ids = torch.randint(0, 1000, (1, s))
saved = {}
def pack(t):
    st = t.untyped_storage()
    if st.data_ptr() not in params: saved[st.data_ptr()] = (st.nbytes(), tuple(t.shape), str(t.dtype))
    return t
with saved_tensors_hooks(pack, lambda t: t), torch.autocast("cpu", dtype=torch.bfloat16):
    loss = pm(input_ids=ids, labels=ids).loss
print("TOTAL", sum(v[0] for v in saved.values()))


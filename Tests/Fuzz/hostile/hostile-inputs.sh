#!/usr/bin/env bash
# Reproduces issue 18's hostile inputs against the built binary, each under a 3 GiB address-space
# limit (ulimit -v) and a 60 s timeout, and prints one row per case: exit status, peak RSS
# (/usr/bin/time), wall time and the first line of stderr; then the checks (token never at the
# other host, inputs byte-identical). Measurement only: the tests cover each case in swift test.
#
#   Tests/Fuzz/hostile/hostile-inputs.sh [BINARY]   (default: .build/debug/qlora-budget)
#
# Needs python3 (a misbehaving local Hub, server.py) and /usr/bin/time. Writes only under a
# temporary folder, removed at the end.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
BIN="$(cd "$ROOT" && realpath "${1:-.build/debug/qlora-budget}")"
WORK="$(mktemp -d)"
trap 'kill $SERVER_A $SERVER_B 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"
PORT_A=$((20000 + RANDOM % 20000)); PORT_B=$((PORT_A + 1))
BOMB="$ROOT/Tests/QLoRABudgetTests/Fixtures/hostile-downloads/gzip-bomb-64MiB.gz"
python3 "$ROOT/Tests/Fuzz/hostile/server.py" $PORT_A $PORT_B "$WORK/requests.log" "$BOMB" & SERVER_A=$!
python3 "$ROOT/Tests/Fuzz/hostile/server.py" $PORT_B $PORT_A "$WORK/requests.log" "$BOMB" & SERVER_B=$!
sleep 1
FAILED=0

# run NAME COMMAND...: one row. Extra environment through `env` in COMMAND.
run() {
  local name="$1"; shift
  local start end status rss
  start=$(date +%s.%N)
  ( ulimit -v 3145728; exec timeout 60 /usr/bin/time -f "%M" -o "$WORK/rss" "$@" ) >"$WORK/out" 2>"$WORK/err"
  status=$?
  end=$(date +%s.%N)
  rss=$(tail -1 "$WORK/rss" 2>/dev/null || echo "?")
  printf '| %s | %s | %.1f MB | %.2f s | %s |\n' "$name" "$status" "$(echo "${rss:-0} / 1000" | bc -l)" \
    "$(echo "$end - $start" | bc -l)" "$(grep -v '^[0-9]*$' "$WORK/err" | head -1 | cut -c1-150)"
  if [ "$status" -ge 124 ]; then FAILED=1; fi
}
check() { # check NAME CONDITION...
  local name="$1"; shift
  if "$@"; then echo "check: $name: ok"; else echo "check: $name: FAILED"; FAILED=1; fi
}
sparse() { truncate -s "$2" "$1"; }

echo "| case | exit | peak RSS | wall | stderr |"
echo "| --- | --- | ---: | ---: | --- |"
HUB=(env HF_HOME="$WORK/hf" HF_ENDPOINT="http://127.0.0.1:$PORT_A" HF_TOKEN=hf_secret_token_18)
# Credentials and downloads
run "download: 302 to another port (token stays)" "${HUB[@]}" "$BIN" estimate redirect/x --download --gpu t4
run "download: 3 GB body" "${HUB[@]}" "$BIN" estimate huge/x --download
run "download: endless chunked body" "${HUB[@]}" "$BIN" estimate endless/x --download
run "download: gzip bomb (65 KB -> 64 MiB)" "${HUB[@]}" "$BIN" estimate bomb/x --download
run "download: 1 byte/s drip (30 s limit)" "${HUB[@]}" "$BIN" estimate drip/x --download
run "download: HTTP://LOCALHOST endpoint" env HF_HOME="$WORK/hf2" HF_ENDPOINT="HTTP://LOCALHOST:$PORT_A" "$BIN" estimate redirect/y --download
run "download: cache root is a file" env HF_HOME="$WORK/requests.log" HF_ENDPOINT="http://127.0.0.1:$PORT_A" "$BIN" estimate redirect/z --download
# The HF cache
mkdir -p hfc/hub/models--a--big/refs hfc/hub/models--a--big/snapshots/abc hfc/hub/models--a--ref/refs
echo abc > hfc/hub/models--a--big/refs/main; sparse hfc/hub/models--a--big/snapshots/abc/config.json 2G
sparse hfc/hub/models--a--ref/refs/main 1G
run "cache: 2 GB snapshot config.json (sparse)" env HF_HOME="$WORK/hfc" "$BIN" estimate a/big
run "cache: 1 GB refs/main (sparse)" env HF_HOME="$WORK/hfc" "$BIN" estimate a/ref
# Training configs, DeepSpeed files, presets
sparse big.yaml 2G; mkfifo fifo.yaml
run "--config of 2 GB (sparse)" "$BIN" estimate --config big.yaml
run "--config a FIFO" "$BIN" estimate --config fifo.yaml
run "--deepspeed /proc/self/pagemap" "$BIN" estimate qwen3-8b --deepspeed /proc/self/pagemap
mkdir -p cfg/run; echo '{"zero_optimization": {"stage": 3}}' > cfg/ds.json
printf 'model_name_or_path: qwen3-8b\nfinetuning_type: lora\ndeepspeed: ../ds.json\n' > cfg/run/run.yaml
run "config deepspeed: ../ds.json (not read)" "$BIN" estimate --config cfg/run/run.yaml
echo '{"zero_optimization": {"stage": 2}, "train_micro_batch_size_per_gpu": 0}' > ds0.json
run "DeepSpeed micro-batch 0" "$BIN" estimate qwen3-8b --deepspeed ds0.json
mkdir -p presets/models presets/gpus; sparse presets/models/huge.json 1G
run "--presets with a 1 GB preset (sparse)" "$BIN" estimate qwen3-8b --presets presets
RANKS=$(seq -s, 1 101); LENS=$(seq -s, 64 64 64000)
run "table with 1,010,000 cells" "$BIN" table --models qwen3-8b --gpu t4,a100-80gb,rtx-4090,h100-80gb,a10g,l4,v100-32gb,a100-40gb,rtx-3090,a6000 --ranks "$RANKS" --seq-lens "$LENS"
# Writes
mkdir -p model; printf '{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100}' > model/config.json
ln -s model/config.json chart.svg; sha256sum model/config.json > before.sha
run "--svg over the model's config.json --force" "$BIN" estimate model/config.json --gpu t4 --svg model/config.json --force
run "--svg through a link to the config --force" "$BIN" estimate model --gpu t4 --svg chart.svg --force
check "config.json byte-identical" sha256sum --quiet -c before.sha
echo old > old.svg
run "--svg over an existing file, no --force" "$BIN" estimate qwen3-8b --gpu t4 --svg old.svg
check "old.svg kept" grep -qx old old.svg
run "--svg to /dev/null" "$BIN" estimate qwen3-8b --gpu t4 --svg /dev/null --force
python3 - <<'PY'
import json, struct, random
random.seed(1)
def write(path, tensors):
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data)
w = struct.pack("<4096e", *[random.gauss(0, 0.02) for _ in range(4096)])
import os; os.makedirs("src", exist_ok=True)
write("src/model.safetensors", [("model.layers.0.mlp.up_proj.weight", "F16", [64, 64], w)])
state = json.dumps({"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [1, 1]}).encode()
write("q11.safetensors", [("m.weight", "U8", [16384, 1], bytes(16384)), ("m.weight.absmax", "F32", [512], bytes(2048)),
    ("m.weight.quant_state.bitsandbytes__nf4", "U8", [len(state)], state)])
state = json.dumps({"quant_type": "nf4", "blocksize": 0, "dtype": "bfloat16", "shape": [128, 256]}).encode()
write("b0.safetensors", [("m.weight", "U8", [16384, 1], bytes(16384)), ("m.weight.absmax", "F32", [512], bytes(2048)),
    ("m.weight.quant_state.bitsandbytes__nf4", "U8", [len(state)], state)])
PY
echo secret > secret.txt; ln -s "$WORK/secret.txt" src/README.md; cp model/config.json src/config.json
mkdir -p mine; echo keep > mine/keep.txt; mkdir mine/sub; (cd mine && find . -type f | sort | xargs sha256sum > ../mine.sha)
run "quantize MODEL mine --force (not ours)" "$BIN" quantize src mine --force
run "quantize MODEL . --force (cwd)" sh -c "cd mine && exec '$BIN' quantize ../src . --force"
check "mine/ byte-identical" sh -c "cd mine && sha256sum --quiet -c ../mine.sha && [ -d sub ]"
run "quantize a folder with README.md -> secret" "$BIN" quantize src q-out
check "secret not copied" sh -c "[ -f q-out/config.json ] && [ ! -e q-out/README.md ]"
run "quantize out again --force (ours)" "$BIN" quantize src q-out --force
mkdir -p stale; touch stale/.x.svg.tmp-999999-ab; mkdir stale/.m.tmp-999998-cd
run "write into a folder with dead PIDs' temporaries" "$BIN" estimate qwen3-8b --gpu t4 --svg stale/c.svg
check "stale temporaries removed" sh -c '[ "$(ls -A stale)" = c.svg ]'
# Inputs
for id in x--y/z x/y--z .hidden/x a./b.; do run "Hub id $id" env HF_HOME="$WORK/hfc" "$BIN" estimate "$id"; done
run "inspect: quant state [1,1] over 16 KiB of codes" "$BIN" inspect q11.safetensors
run "inspect: blocksize 0" "$BIN" inspect b0.safetensors
mkdir -p dup neg
printf '{"model_type": "llama", "hidden_size": 64, "hidden_size": 4096, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100}' > dup/config.json
printf '{"model_type": "llama", "hidden_size": 64, "sliding_window": -4096, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100}' > neg/config.json
run "config.json with a key twice" "$BIN" estimate dup
run "negative sliding_window" "$BIN" estimate neg
# The token
check "token sent to the endpoint" grep -q "$PORT_A /redirect" requests.log
check "token never at the other port" sh -c "! awk '/^[0-9]+ \\//{p=\$1} /hf_secret_token_18/{print p}' requests.log | grep -qx $PORT_B"
exit $FAILED

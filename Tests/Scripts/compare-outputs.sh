#!/usr/bin/env bash
# Runs the same commands with two qlora-budget binaries and compares their standard output,
# standard error and exit status byte for byte: every command of the CLI's main paths, each
# preset model (estimate --json) and GPU (fit), help texts (word wrap), model and GPU aliases, Hub ids, a
# config.json file, a DeepSpeed config and errors. For a change that must not move any answer.
#
#     Tests/Scripts/compare-outputs.sh BASE_BINARY NEW_BINARY
#
# Prints each command that differs and exits 1 if any does; 0 when all agree.
set -u
base=$1
new=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$(cd "$(dirname "$0")/../.." && pwd)

commands=(
  "--version"
  "help"
  "help fit"
  "help solve"
  "fit --help"
  "fit qwen3-14b --gpu rtx-4090 --rank 32"
  "fit qwen3-14b --gpu rtx-4090 --rank 32 --json"
  "fit qwen3-14b --gpu rtx-4090 --rank 32 --explain"
  "fit qwen3-14b --gpu rtx-4090 --rank 32 --seq-len 2816"
  "fit qwen3-14b --gpu rtx-4090 --rank 64 --seq-len 4096"
  "fit llama-3.1-8b --gpu t4 --rank 16 --explain"
  "fit Qwen/Qwen3-14B --gpu rtx-4090"
  "fit qwen3-14b --gpu 24GB"
  "fit qwen3-14b --gpu rtx-4090 --targets q_proj,v_proj"
  "fit qwen3-14b --gpu ' rtx-4090 '"
  "fit qwen3-14b --gpu \$'\\u00a0rtx-4090\\t'"
  "compare qwen3-14b --gpu ' rtx-4090 , t4 '"
  "estimate qwen3-14b --gpu rtx-4090 --explain"
  "estimate deepseek-v3 --gpu h100 --json"
  "solve qwen3-14b --gpu rtx-4090 --rank 32"
  "solve qwen3-14b --gpu rtx-4090 --json"
  "compare qwen3-14b --gpu rtx-4090,a100-80gb,t4"
  "presets models"
  "presets gpus"
  "presets models --json"
  "presets gpus --json"
  "fit no-such-model --gpu rtx-4090"
  "fit qwen3-14b --gpu no-such-gpu"
  "fit '  ' --gpu rtx-4090"
  "compare qwen3-14b --gpu 'rtx-4090,,t4'"
  "fit \$'\\u2003' --gpu rtx-4090"
  "fit $root/Presets/models/qwen3-8b.json --gpu rtx-4090"
  "estimate $root/Presets/models/gemma-3n-e4b.json --gpu t4 --json"
)
for model in $(ls "$root/Presets/models" | sed 's/\.json$//'); do
  commands+=("estimate $model --gpu rtx-4090 --json")
  commands+=("fit $model --gpu a100-80gb --explain")
done
for gpu in $(ls "$root/Presets/gpus" | sed 's/\.json$//'); do
  commands+=("fit qwen3-8b --gpu $gpu")
done
aliases() { cat "$root"/Presets/$1/*.json | tr -d '\n' | grep -o '"aliases": *\[[^]]*' | grep -o '"[^"]*"' \
  | grep -v aliases | tr -d '"' | head -15; }
for alias in $(aliases models); do commands+=("fit $alias --gpu rtx-4090"); done
for alias in $(aliases gpus); do commands+=("fit qwen3-8b --gpu $alias"); done

differ=0
for command in "${commands[@]}"; do
  for binary in base new; do
    eval "\"\${$binary}\" $command" >"$work/$binary.out" 2>"$work/$binary.err" </dev/null
    echo $? >"$work/$binary.status"
  done
  if ! cmp -s "$work/base.out" "$work/new.out" || ! cmp -s "$work/base.err" "$work/new.err" \
    || ! cmp -s "$work/base.status" "$work/new.status"; then
    echo "differs: qlora-budget $command"
    differ=1
  fi
done
echo "${#commands[@]} commands compared"
exit $differ

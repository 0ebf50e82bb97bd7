#!/usr/bin/env bash
# Runs every harness for SECONDS each, one after another (never in parallel), and appends each
# run's summary to .build/fuzz/summary.txt. Usage: Tests/Fuzz/run-all.sh SECONDS [HARNESS...]
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${1:?usage: run-all.sh SECONDS [HARNESS...]}"; shift
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(config safetensors size cli yaml mcp)
mkdir -p "$ROOT/.build/fuzz"
for harness in "${harnesses[@]}"; do
  for h in "${harnesses[@]}"; do "$ROOT/Tests/Fuzz/run.sh" build "$h" >/dev/null; done  # build all up front
  break
done
for harness in "${harnesses[@]}"; do
  start=$(date -u +%FT%TZ)
  output=$("$ROOT/Tests/Fuzz/run.sh" "$harness" "$seconds" 2>&1); status=$?
  { echo "== $harness: ${seconds}s from $start, exit $status"; echo "$output" | grep -E "stat::|ERROR|SUMMARY|invariant|written" | awk '!seen[$0]++'; } \
    >> "$ROOT/.build/fuzz/summary.txt"
done

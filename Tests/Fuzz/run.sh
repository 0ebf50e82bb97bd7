#!/usr/bin/env bash
# Builds and runs one libFuzzer harness of qlora-budget.
#
#   Tests/Fuzz/run.sh HARNESS SECONDS [libFuzzer options...]   build, then fuzz for SECONDS
#   Tests/Fuzz/run.sh build HARNESS                            build only
#   Tests/Fuzz/run.sh replay HARNESS FILE...                   run the harness once on each FILE
#
# HARNESS is one of: config safetensors size cli quantstate yaml mcp (see Tests/Fuzz/harnesses/).
# One fuzzer process, one worker: the machine is shared. Build output, the working corpus
# (new inputs the fuzzer finds) and crash artifacts go under .build/fuzz/; the seed corpus in
# Tests/Fuzz/corpus/HARNESS is read, never written. A finding is saved as
# .build/fuzz/artifacts/HARNESS/crash-* (or leak-*, oom-*, timeout-*) and the run stops with a
# non-zero status; copy it into Tests/Fuzz/regressions/HARNESS/ and add a test.
#
# Environment: SWIFTC (default /opt/swift/usr/bin/swiftc, else swiftc on PATH).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SWIFTC="${SWIFTC:-/opt/swift/usr/bin/swiftc}"
[ -x "$SWIFTC" ] || SWIFTC=swiftc
OUT="$ROOT/.build/fuzz"
# Coverage (libFuzzer's edge counters) and AddressSanitizer in every module, optimized: the
# library is what is fuzzed, so it is instrumented too, not just the harness.
FLAGS=(-parse-as-library -O -wmo -sanitize=fuzzer,address -g -package-name qlora_budget)

usage() { sed -n '2,15p' "$0" >&2; exit 64; }

quiet() { # swiftc with ld.gold's "cannot export local symbol __asan_*" warnings removed
  "$@" 2> >(grep -v "Cannot export local symbol" >&2)
}

module() { # module NAME SOURCE_DIR: compile one library module to NAME.o + NAME.swiftmodule
  local name="$1" dir="$2"
  local newest
  newest=$(find "$dir" -name '*.swift' -newer "$OUT/$name.o" 2>/dev/null | head -1 || true)
  if [ -f "$OUT/$name.o" ] && [ -z "$newest" ]; then return; fi
  echo "compiling $name" >&2
  # shellcheck disable=SC2046
  quiet "$SWIFTC" "${FLAGS[@]}" -module-name "$name" -I "$OUT" -emit-module -emit-module-path "$OUT/$name.swiftmodule" \
    -c $(find "$dir" -name '*.swift' | sort) -o "$OUT/$name.o"
}

build() (  # a subshell: it changes the current folder
  local harness="$1" src="$ROOT/Tests/Fuzz/harnesses/$1.swift"
  [ -f "$src" ] || { echo "no harness '$harness' (Tests/Fuzz/harnesses/$harness.swift)" >&2; exit 64; }
  mkdir -p "$OUT"
  cd "$OUT"  # swiftc leaves module and debug files in the current folder
  module FileSafety "$ROOT/Sources/FileSafety"
  module Safetensors "$ROOT/Sources/Safetensors"
  module QLoRABudget "$ROOT/Sources/QLoRABudget"
  module QLoRABudgetInputs "$ROOT/Sources/QLoRABudgetInputs"
  module QLoRABudgetValidation "$ROOT/Sources/QLoRABudgetValidation"
  module NF4Quantization "$ROOT/Sources/NF4Quantization"
  local objects=("$OUT/FileSafety.o" "$OUT/Safetensors.o" "$OUT/QLoRABudget.o" "$OUT/QLoRABudgetInputs.o"
    "$OUT/QLoRABudgetValidation.o" "$OUT/NF4Quantization.o")
  case "$harness" in
    cli|size|mcp)
      # The command layer is an executable target: its sources are compiled into the harness's
      # module (so internal types are visible) with the @main entry point renamed away from
      # libFuzzer's main.
      # shellcheck disable=SC2046
      quiet "$SWIFTC" "${FLAGS[@]}" -module-name qlora_budget -I "$OUT" \
        -Xfrontend -entry-point-function-name -Xfrontend qlora_budget_main \
        $(find "$ROOT/Sources/qlora-budget" -name '*.swift' | sort) "$src" \
        "${objects[@]}" -o "$OUT/fuzz-$harness" ;;
    *)
      quiet "$SWIFTC" "${FLAGS[@]}" -module-name "Fuzz_$harness" -I "$OUT" "$src" \
        "${objects[@]}" -o "$OUT/fuzz-$harness" ;;
  esac
  echo "$OUT/fuzz-$harness"
)

[ $# -ge 2 ] || usage
case "$1" in
  build) build "$2" >/dev/null; echo "built $OUT/fuzz-$2" ;;
  replay)
    harness="$2"; shift 2
    build "$harness" >/dev/null
    files=()  # absolute: the cli harness changes the current folder
    for file in "$@"; do case "$file" in -*) files+=("$file") ;; *) files+=("$(realpath "$file")") ;; esac; done
    SWIFT_BACKTRACE=enable=no "$OUT/fuzz-$harness" -runs=1 "${files[@]}" ;;
  *)
    harness="$1" seconds="$2"; shift 2
    build "$harness" >/dev/null
    mkdir -p "$OUT/corpus/$harness" "$OUT/artifacts/$harness"
    dict=()
    [ -f "$ROOT/Tests/Fuzz/dictionaries/$harness.dict" ] && dict=(-dict="$ROOT/Tests/Fuzz/dictionaries/$harness.dict")
    # -malloc_limit_mb: no single allocation may exceed 64 MB (inputs are at most 64 KB), so an
    # allocation sized by a claimed length is a finding. -timeout: one input may take 10 s.
    # -jobs=1 runs the fuzzer in one child process whose log is fuzz-0.log in the current
    # folder: .build/fuzz/logs/HARNESS/. The Swift backtracer is off so ASan reports cleanly.
    mkdir -p "$OUT/logs/$harness"; cd "$OUT/logs/$harness"
    export SWIFT_BACKTRACE=enable=no
    status=0
    "$OUT/fuzz-$harness" -workers=1 -jobs=1 -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -malloc_limit_mb=64 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$OUT/artifacts/$harness/" "${dict[@]}" "$@" \
      "$OUT/corpus/$harness" "$ROOT/Tests/Fuzz/corpus/$harness" || status=$?
    grep -E "^(stat::|==[0-9]+==ERROR|SUMMARY|fuzz invariant|Done )|Test unit written" fuzz-0.log | awk '!seen[$0]++' || true
    echo "log: $OUT/logs/$harness/fuzz-0.log; artifacts: $OUT/artifacts/$harness/"
    exit "$status" ;;
esac

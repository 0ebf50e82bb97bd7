#!/usr/bin/env bash
# Regenerates every table in docs/tables/ from docs/tables/tables.txt.
# Usage (from the package root): swift build && docs/tables/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
binary="${QLORA_BUDGET:-.build/debug/qlora-budget}"
while read -r file arguments; do
  [[ -z "$file" || "$file" == \#* ]] && continue
  # shellcheck disable=SC2086 # the arguments are words, split on purpose
  "$binary" table $arguments > "docs/tables/$file"
  echo "wrote docs/tables/$file"
done < docs/tables/tables.txt

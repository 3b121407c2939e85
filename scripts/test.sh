#!/usr/bin/env bash
# The test command: build tests and the binary in one profile, fetch the real data the
# tests read (checksummed; skipped when present), run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --bin compmod --tests
for dataset in fashion-mnist mnist cifar-samples; do
    "$compmod_bin" data fetch "$dataset"
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"

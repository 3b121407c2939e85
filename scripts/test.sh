#!/usr/bin/env bash
# The test command: build tests and the binary in one profile, fetch the real data the
# tests read (checksummed; skipped when present), run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --bin compmod --tests
for dataset in fashion-mnist mnist cifar-samples; do
    "$COMPMOD_BIN" data fetch "$dataset"
done
cargo test "$@"

#!/usr/bin/env bash
# The main job on a fresh machine: build, fetch Fashion-MNIST (checksummed), and run
# SimCLR with and without CompMod on the CPU. Extra arguments go to `compmod run`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --bin compmod
"$compmod_bin" data fetch fashion-mnist
"$compmod_bin" run experiments/quickstart.toml "$@"

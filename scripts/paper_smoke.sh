#!/usr/bin/env bash
# Smoke-test the paper's tables before sending them to a GPU cluster: every cell of every
# experiments/paper/table*.toml, scaled down to a tiny small-CNN run on real Fashion-MNIST
# (same grid, same per-method recipes otherwise). Results go to results/paper-table*/;
# `compmod report results/paper-table1` then shows the smoke table.
#   scripts/paper_smoke.sh [table1 table2 ...] [-- extra --set args]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --quiet --bin compmod
"$compmod_bin" data fetch fashion-mnist
tables=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do tables+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#tables[@]} -gt 0 ] || tables=(table1 table2 table4 table6 table7)
# Each --set pins the matching part of a grid axis (compmod prints which); the rest of
# the grid (methods, CompMod on/off, lambdas, fusion, modes, views) stays as written.
scale=(
    --set data.dataset=fashion-mnist --set data.root=data/fashion-mnist --set data.image_size=28
    --set data.unlabeled=false --set data.train_subset=2048 --set data.test_subset=2000 --set data.workers=1
    --set backbone.arch=small-cnn --set backbone.width=8
    --set train.epochs=2 --set train.batch_size=128 --set train.warmup_epochs=0.5
    --set method.proj_hidden=128 --set method.proj_dim=64 --set method.pred_hidden=128
    --set compmod.hidden=128 --set compmod.lambda_warmup_epochs=1
    --set eval.linear_epochs=10
)
for t in "${tables[@]}"; do
    file=$(ls experiments/paper/"$t"_*.toml)
    echo "== $file"
    "$compmod_bin" run "$file" --quiet "${scale[@]}" "$@"
done

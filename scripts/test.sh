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
# A real MLflow tracking server on loopback for tests/mlflow.rs (PyPI mlflow; ~2 min to
# install the first time), in its own process group so all its workers stop with it.
MLFLOW_VERSION=3.17.2
if ! python3 -m mlflow --version 2>/dev/null | grep -q "$MLFLOW_VERSION"; then
    python3 -m pip install -q "mlflow==$MLFLOW_VERSION"
fi
# Python polars, to read the results the way users do (tests/python_polars.rs).
python3 -c "import polars" 2>/dev/null || python3 -m pip install -q polars
# pdflatex with booktabs, to compile the report's LaTeX (tests/report.rs; Debian, ~40 s).
if ! command -v pdflatex >/dev/null || ! kpsewhich booktabs.sty >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends texlive-latex-recommended >/dev/null
fi
# (Not COMPMOD_*: every COMPMOD_* variable is read as a config key.)
export TEST_REQUIRE_PDFLATEX=1
mlflow_dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid python3 -m mlflow server --host 127.0.0.1 --port "$port" --workers 1 \
    --backend-store-uri "sqlite:///$mlflow_dir/mlflow.db" --artifacts-destination "$mlflow_dir/artifacts" \
    > "$mlflow_dir/server.log" 2>&1 &
mlflow_pid=$!
log=$(mktemp)
cleanup() {
    kill -TERM -- "-$mlflow_pid" 2>/dev/null || true
    sleep 1
    kill -KILL -- "-$mlflow_pid" 2>/dev/null || true
    rm -rf "$log" "$mlflow_dir"
}
trap cleanup EXIT
for _ in $(seq 1 90); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=2)" 2>/dev/null && break
    sleep 1
done
python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=2)" \
    || { echo "the MLflow server did not start:" >&2; cat "$mlflow_dir/server.log" >&2; exit 1; }
export MLFLOW_TEST_URI="http://127.0.0.1:$port"

set +e
cargo test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"

# Shared by the scripts: one Cargo target folder outside the clone, so every clone on this
# machine (and CI) reuses the compiled dependencies (a cold build takes ~25 min on 2 cores).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/compmod/target}"
compmod_bin="$CARGO_TARGET_DIR/debug/compmod"

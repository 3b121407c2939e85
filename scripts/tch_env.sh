# Source to build and run the LibTorch backend (`--features tch`): burn-tch 0.22.1 builds
# against tch 0.22.0, which needs LibTorch 2.9.0; it is taken from the PyPI torch==2.9.0
# wheel in a venv (LIBTORCH_USE_PYTORCH=1) and found at run time through LD_LIBRARY_PATH.
# A separate target folder keeps the default (flex-only) build's cache intact.
#   python3 -m venv ~/.cache/torchvenv && ~/.cache/torchvenv/bin/pip install torch==2.9.0
TORCH_VENV="${TORCH_VENV:-$HOME/.cache/torchvenv}"
export PATH="$TORCH_VENV/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
torch_lib=$("$TORCH_VENV/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR_TCH:-$HOME/.cache/compmod/target-tch}"

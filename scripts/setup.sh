#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine: Debian packages for the
# Python model code (PyTorch from Debian; there is no pip index here) and the npm dependencies.
# Idempotent: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  python3-torch libopenblas0-pthread  # OpenBLAS: without it matmuls fall back to the reference BLAS (~9x slower)
  python3-numpy python3-regex python3-pytest
  python3-onnx  # reads a package's weights back into PyTorch (model.package)
  python3-matplotlib  # plots of the evaluation report (model.evaluate)
)
bash scripts/apt-install.sh "${apt_packages[@]}"

# onnxruntime-node's install script downloads CUDA binaries; there is no route for that here.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund
fi

# A real VS Code (code-server) and Chromium for the extension and browser tests, and for npm start.
bash scripts/setup-vscode.sh

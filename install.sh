#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine:
#   - Fashion-MNIST from the Debian package dataset-fashion-mnist (when apt-get is available and we are root;
#     elsewhere torchvision downloads it on first use),
#   - a torch + torchvision pair that imports on CPU-only machines (constraints.txt),
#   - this package, editable, with its test extras.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "install.sh: installing Debian package dataset-fashion-mnist"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "install.sh: dataset-fashion-mnist not installed (needs root and apt-get); torchvision will download it"
  fi
fi

"$PYTHON" -m pip install -q -c constraints.txt -e ".[test]"
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
"$PYTHON" -c "import torch, torchvision; print(f'install.sh: torch {torch.__version__}, torchvision {torchvision.__version__} import fine')"

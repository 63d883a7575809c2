#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine:
#   - Fashion-MNIST from the Debian package dataset-fashion-mnist (when apt-get is available and we are root;
#     elsewhere torchvision downloads it on first use),
#   - PostgreSQL's server binaries from the Debian package postgresql (same conditions; for the worker tests),
#   - a torch + torchvision pair that imports on CPU-only machines (constraints.txt),
#   - this package, editable, with its test extras (psycopg and SQLAlchemy for postgresql:// storage, Ray for
#     backend=ray, hydra-submitit-launcher for hydra/launcher=submitit_*).
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

# PostgreSQL's server binaries: the tests of parallel search workers start a throwaway server with them
# (searcher.storage=postgresql://...); the server itself is not started here.
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "install.sh: installing Debian package postgresql"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "install.sh: postgresql not installed (needs root and apt-get); the PostgreSQL worker tests will be skipped"
  fi
fi

"$PYTHON" -m pip install -q -c constraints.txt -e ".[test]"
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
"$PYTHON" -c "import torch, torchvision; print(f'install.sh: torch {torch.__version__}, torchvision {torchvision.__version__} import fine')"

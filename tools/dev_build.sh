#!/usr/bin/env bash
# Fast developer loop without pip: configure once into build/dev (or $1), then
# incremental rebuilds that drop _C next to python/fastgrad. Use with
#   tools/dev_build.sh && PYTHONPATH=python python -m pytest -q
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/dev}
# Relative paths in the ccache key: worktrees and clones share cache hits.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFASTGRAD_DEV_INPLACE=ON \
    -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v python3)" >/dev/null
fi
cmake --build "$BUILD" -j "${JOBS:-2}"

#!/usr/bin/env bash
# Compile-check the TensorRT plugins (-Wall -Wextra -Werror) against one or more TensorRT header trees and run
# tools/plugin_check against each build. No GPU and no TensorRT libraries needed; nvcc must be present.
#   tools/check_plugins.sh third_party/TensorRT-10.0 third_party/TensorRT-11.1
# (header trees: e.g. `git archive release/11.1 include` of github.com/NVIDIA/TensorRT, kept out of git)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 TENSORRT_ROOT [TENSORRT_ROOT ...]" >&2; exit 2; }
python=${PYTHON:-python3}
pybind11_dir=$("$python" -m pybind11 --cmakedir)
for root in "$@"; do
  build="build/plugins-$(basename "$root")"
  cmake -S . -B "$build" -G Ninja -DPython_EXECUTABLE="$(command -v "$python")" -Dpybind11_DIR="$pybind11_dir" \
    -DSKBUILD_PROJECT_NAME=starnet_trt -DSKBUILD_PROJECT_VERSION=0.0.0 -DSTARNET_CUDA=ON \
    -DSTARNET_CUDA_ARCHITECTURES="${STARNET_CUDA_ARCHITECTURES:-75;87;90}" -DTensorRT_ROOT="$(realpath "$root")" \
    -DSTARNET_WERROR=ON >/dev/null
  cmake --build "$build" --target starnet_plugins plugin_check
  "$build/plugin_check"
done

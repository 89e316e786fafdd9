#!/usr/bin/env bash
# Compile-check the C++ TensorRT runtime (libstarnet_runtime, the _trt module, starnet_cpp_demo; and the fake
# libnvinfer of tools/fake_tensorrt, whose stubs are generated from each tree) with
# -Wall -Wextra -Werror against one or more TensorRT header trees, then load the module and run its GPU-free
# checks (TensorRT absent -> clear error). No GPU and no TensorRT libraries needed; nvcc must be present.
#   tools/check_runtime.sh third_party/TensorRT-10.0 third_party/TensorRT-10.16 third_party/TensorRT-11.1
# The kernels are compiled for one architecture by default (host code is what differs between header trees);
# STARNET_CUDA_ARCHITECTURES="75;87;90" builds them all.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 TENSORRT_ROOT [TENSORRT_ROOT ...]" >&2; exit 2; }
python=${PYTHON:-python3}
pybind11_dir=$("$python" -m pybind11 --cmakedir)
for root in "$@"; do
  build="build/runtime-$(basename "$root")"
  cmake -S . -B "$build" -G Ninja -DPython_EXECUTABLE="$(command -v "$python")" -Dpybind11_DIR="$pybind11_dir" \
    -DSKBUILD_PROJECT_NAME=starnet_trt -DSKBUILD_PROJECT_VERSION=0.0.0 -DSTARNET_CUDA=ON \
    -DSTARNET_CUDA_ARCHITECTURES="${STARNET_CUDA_ARCHITECTURES:-75}" -DTensorRT_ROOT="$(realpath "$root")" \
    -DSTARNET_WERROR=ON >/dev/null
  cmake --build "$build" --target starnet_runtime _trt starnet_cpp_demo starnet_fake_nvinfer
  # The module imports without TensorRT or a GPU and says what is missing.
  PYTHONPATH="$build" "$python" - "$root" <<'PY'
import sys
import _trt

print(f"{sys.argv[1]}: _trt imports; cuda_device_count() = {_trt.cuda_device_count()}")
try:
    print(f"  libnvinfer {_trt.tensorrt_version()} found")
except RuntimeError as exc:
    print(f"  no libnvinfer here (expected on a CPU-only machine): {str(exc)[:100]}...")
PY
  "$build/starnet_cpp_demo" >/dev/null 2>&1 && exit 1 || true  # usage error (exit 2) without arguments
  echo "$root: OK"
done

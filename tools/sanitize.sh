#!/usr/bin/env bash
# Build the native core with AddressSanitizer + UndefinedBehaviorSanitizer and run the core tests and the fuzz
# harnesses under it; also the CUDA kernels' CPU emulation (tests/emu). CPU only (CUDA off). Uses the active Python
# environment (pytest, hypothesis, numpy, torch).
#   tools/sanitize.sh                # core tests + a short fuzz (FUZZ_SECONDS per harness, default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python}
build=build/sanitize
pkg=build/sanitize-pkg
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTARNET_CUDA=OFF -DSTARNET_SANITIZE=ON \
  -DPython_EXECUTABLE="$(command -v "$python")" -Dpybind11_DIR="$("$python" -m pybind11 --cmakedir)" \
  -DSKBUILD_PROJECT_NAME=starnet_trt -DSKBUILD_PROJECT_VERSION=0.0.0 >/dev/null
cmake --build "$build" --target _core
# A private copy of the package with the sanitized extension, ahead of any installed one on sys.path.
rm -rf "$pkg" && mkdir -p "$pkg" && cp -r starnet_trt "$pkg/" && rm -f "$pkg"/starnet_trt/_core*.so
cp "$build"/_core*.so "$pkg/starnet_trt/"
# An editable install (pip install -e) hooks imports of starnet_trt ahead of PYTHONPATH; drop that hook for this run.
cat > "$pkg/sitecustomize.py" <<'PY'
import sys

sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("_editable_skbc_starnet_trt")]
PY
asan=$(${CXX:-c++} -print-file-name=libasan.so)
ubsan=$(${CXX:-c++} -print-file-name=libubsan.so)
for lib in "$asan" "$ubsan"; do
  [ -f "$lib" ] || { echo "sanitizer runtime not found ($lib): install your compiler's libasan/libubsan" >&2; exit 1; }
done
# The CUDA kernels' own source, run on the CPU (tests/emu) under the same sanitizers: an index past a buffer or a
# shared array, or an overflowing index expression, stops the run and names the kernel's line.
if "$python" tests/emu/build.py --check; then
  emu=$("$python" tests/emu/build.py build/emu-sanitize --sanitize)
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$emu" 20261127 4 \
    2> >(grep -v "doesn't fully support makecontext/swapcontext" >&2)
fi
export PYTHONPATH="$PWD/$pkg${PYTHONPATH:+:$PYTHONPATH}"
export LD_PRELOAD="$asan $ubsan"
# Python's own allocations are not ours to judge at exit: leak checking off, everything else fatal.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export FUZZ_SECONDS=${FUZZ_SECONDS:-20}
root=$PWD
cd "$pkg"  # not the repo root: its source package (without _core) would shadow the sanitized copy
PYTHONSAFEPATH=1 "$python" -c "import starnet_trt._core as c; assert '$pkg' in c.__file__, c.__file__; print('sanitized core:', c.__file__)"
PYTHONSAFEPATH=1 "$python" -m pytest -q -p no:cacheprovider --rootdir "$root" -c "$root/pyproject.toml" \
  "$root/tests/test_core_resize.py" "$root/tests/test_core_decode.py" "$root/tests/test_core_tps.py" "$root/tests/fuzz"

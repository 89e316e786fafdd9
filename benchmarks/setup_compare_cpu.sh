#!/usr/bin/env bash
# Creates .venv-compare (ignored) with starnet-trt, PyTorch (CPU), PaddleOCR 2.7.3's recognizer and Paddle, for
# benchmarks/compare_cpu.py. Run from the repo root: bash benchmarks/setup_compare_cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-compare
. .venv-compare/bin/activate
pip install -q --upgrade pip
pip install -q -r benchmarks/requirements-compare-cpu.txt
pip install -q --no-deps paddleocr==2.7.3
pip install -q torch==2.13.0
pip install -q "numpy<2" .
python -c "import pyclipper, paddle, paddleocr, torch, starnet_trt; print('paddle', paddle.__version__, 'torch', torch.__version__)"

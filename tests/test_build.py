"""The native module imports everywhere and reports its CUDA support honestly."""

from __future__ import annotations

import numpy as np
import pytest

import starnet_trt
from starnet_trt import _core


def test_has_cuda_is_bool() -> None:
    assert isinstance(_core.has_cuda, bool)


def test_cuda_device_count_never_raises() -> None:
    count = _core.cuda_device_count()
    assert isinstance(count, int) and count >= 0
    if not _core.has_cuda:
        assert count == 0


@pytest.mark.skipif(_core.has_cuda, reason="only a CPU-only build refuses the CUDA entry points")
def test_cpu_only_build_says_so() -> None:
    with pytest.raises(RuntimeError, match="built without CUDA"):
        _core.resize_normalize_cuda([np.zeros((4, 4, 3), np.uint8)], np.zeros((1, 3, 32, 100), np.float32))
    with pytest.raises(RuntimeError, match="built without CUDA"):
        _core.ctc_greedy_decode_cuda(np.zeros((1, 2, 3), np.float32))


def test_version_is_single_sourced() -> None:
    from importlib.metadata import version

    assert version("starnet-trt") == starnet_trt.__version__


def test_stub_matches_module() -> None:
    """_core.pyi is written by hand (sharper types than pybind11-stubgen's); keep it in step with the module."""
    import ast
    from pathlib import Path

    stub = ast.parse((Path(starnet_trt.__file__).parent / "_core.pyi").read_text(encoding="utf-8"))
    declared = {node.name for node in stub.body if isinstance(node, ast.FunctionDef)}
    declared |= {node.target.id for node in stub.body if isinstance(node, ast.AnnAssign)}
    declared |= {node.name for node in stub.body if isinstance(node, ast.ClassDef)}  # submodules
    if not _core.has_cuda:
        declared.discard("cuda")  # the raw-launcher submodule exists in CUDA builds only
    exported = {name for name in dir(_core) if not name.startswith("_")}
    assert declared == exported

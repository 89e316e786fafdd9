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


def _pybind_parameters(function) -> list[str]:
    """Parameter names from a pybind11 function's signature line (first line of its docstring)."""
    line = function.__doc__.splitlines()[0]
    inner = line[line.index("(") + 1 : line.rindex(") ->")]
    names, depth, start = [], 0, 0
    for i, ch in enumerate(inner + ","):
        depth += int(ch in "[(")
        depth -= int(ch in "])")
        if ch == "," and depth == 0:
            part = inner[start:i].strip()
            if part:
                names.append(part.split(":")[0].strip())
            start = i + 1
    return names


def test_stub_parameters_match_the_module() -> None:
    """Every stub function (the raw CUDA launchers too, in CUDA builds) names the module's parameters in order."""
    import ast
    from pathlib import Path

    stub = ast.parse((Path(starnet_trt.__file__).parent / "_core.pyi").read_text(encoding="utf-8"))
    functions = [(None, n) for n in stub.body if isinstance(n, ast.FunctionDef)]
    for cls in (n for n in stub.body if isinstance(n, ast.ClassDef) and n.name == "cuda" and _core.has_cuda):
        functions += [(cls.name, n) for n in cls.body if isinstance(n, ast.FunctionDef)]
    checked = 0
    for owner, node in functions:
        target = getattr(_core, node.name) if owner is None else getattr(getattr(_core, owner), node.name)
        if not (target.__doc__ or "").startswith(f"{node.name}("):
            continue  # overloaded or not a plain pybind11 function
        assert [a.arg for a in node.args.args] == _pybind_parameters(target), (owner, node.name)
        checked += 1
    assert checked >= 10

"""Shared pytest setup: ``gpu`` and ``tensorrt`` tests skip cleanly where the hardware or library is missing."""

from __future__ import annotations

import importlib.util

import pytest


def _cuda_device_count() -> int:
    try:
        from starnet_trt import _core
    except ImportError:
        return 0
    return _core.cuda_device_count() if _core.has_cuda else 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needs_gpu = any("gpu" in item.keywords for item in items)
    has_gpu = _cuda_device_count() > 0 if needs_gpu else False
    has_trt = importlib.util.find_spec("tensorrt") is not None
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU and a CUDA build of starnet_trt._core"))
        if "tensorrt" in item.keywords and not has_trt:
            item.add_marker(pytest.mark.skip(reason="needs the tensorrt package"))

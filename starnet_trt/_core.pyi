"""Type stubs for the native core (``csrc/bindings/module.cpp``); use ``starnet_trt.ops`` for validated wrappers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

has_cuda: bool

def cuda_device_count() -> int: ...
def resize_normalize(
    images: Sequence[npt.NDArray[np.uint8]] | npt.NDArray[np.uint8],
    out: npt.NDArray[np.float32],
    channel_order: str = "bgr",
    num_threads: int = 0,
) -> npt.NDArray[np.int32]: ...
def resize_normalize_cuda(
    images: Sequence[npt.NDArray[np.uint8]] | npt.NDArray[np.uint8],
    out: npt.NDArray[np.float32],
    channel_order: str = "bgr",
) -> npt.NDArray[np.int32]: ...
def ctc_greedy_decode(
    scores: npt.NDArray[np.float32] | npt.NDArray[np.float16], blank: int = 0, num_threads: int = 0
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float32]]: ...
def ctc_greedy_decode_cuda(
    scores: npt.NDArray[np.float32] | npt.NDArray[np.float16], blank: int = 0
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float32]]: ...
def ctc_beam_search_decode(
    scores: npt.NDArray[np.float32] | npt.NDArray[np.float16],
    beam_width: int = 10,
    blank: int = 0,
    num_threads: int = 0,
) -> list[tuple[list[int], float]]: ...
